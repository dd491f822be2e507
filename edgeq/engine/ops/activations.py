"""Kernel group ``activations`` (being written)."""
