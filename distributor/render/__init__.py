"""Rendering: emails compiled once per send, channel text per channel format."""
