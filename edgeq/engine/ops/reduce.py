"""Kernel group ``reduce`` (being written)."""
