"""Worlds: where a scene takes place (a name, a description, a lorebook in SillyTavern's World Info format)."""
