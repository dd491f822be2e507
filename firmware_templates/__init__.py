"""Jinja2 templates of firmware projects, engine kernels, benchmark harnesses and Android modules (package data)."""
