"""edgeq: Keras models to TensorFlow Lite, microcontroller firmware and measured benchmarks.

The public API lives in :mod:`edgeq.api`; it is imported lazily so that ``import edgeq`` and
``edgeq --help`` stay fast and never import TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ConvertResult", "ModeResult", "__version__", "convert"]

if TYPE_CHECKING:
    from edgeq.api import convert
    from edgeq.results import ConvertResult, ModeResult


def __getattr__(name: str) -> Any:
    if name == "convert":
        from edgeq.api import convert

        return convert
    if name in ("ConvertResult", "ModeResult"):
        from edgeq import results

        return getattr(results, name)
    raise AttributeError(f"module 'edgeq' has no attribute {name!r}")
