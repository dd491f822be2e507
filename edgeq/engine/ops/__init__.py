"""The engine's lowerings, one module per kernel group (importing registers them)."""

from edgeq.engine.ops import activations, binary, core, data, int16, int16_layers, reduce  # noqa: F401
