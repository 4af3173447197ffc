"""Channels: one folder per platform, each with the same shape (parse, send)."""
