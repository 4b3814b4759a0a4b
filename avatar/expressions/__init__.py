"""Expressions: the emotion label of each reply, sprites per label, and the character's mood toward the user."""
