"""Scenes: several characters in one conversation, optionally in a world of their own."""
