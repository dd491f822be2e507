"""The engine's lowerings, one module per kernel group (importing registers them)."""

from edgeq.engine.ops import binary, core  # noqa: F401
