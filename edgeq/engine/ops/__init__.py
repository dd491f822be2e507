"""The engine's lowerings, one module per kernel group (importing registers them)."""

from edgeq.engine.ops import (  # noqa: F401
    activations,
    arith,
    arith_layers,
    binary,
    compare,
    core,
    data,
    division,
    float32_elementwise,
    float32_layers,
    int16,
    int16_layers,
    movement,
    movement_select,
    reduce,
)
