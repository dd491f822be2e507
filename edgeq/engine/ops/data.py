"""Kernel group ``data`` (being written)."""
