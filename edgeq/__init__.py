"""edgeq: Keras models to TensorFlow Lite, microcontroller firmware and measured benchmarks.

The public API lives in :mod:`edgeq.api`; it is imported lazily so that ``import edgeq`` and
``edgeq --help`` stay fast and never import TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeq.version import __version__

__all__ = [
    "BenchOptions",
    "BenchReport",
    "ConvertResult",
    "ExportResult",
    "InspectResult",
    "ModeResult",
    "__version__",
    "benchmark",
    "convert",
    "export_android",
    "export_mcu",
    "inspect",
    "qat",
]

if TYPE_CHECKING:
    from edgeq.android.export import export_android
    from edgeq.api import bench as benchmark
    from edgeq.api import convert, export_mcu, inspect, qat
    from edgeq.bench.options import BenchOptions
    from edgeq.bench.results import BenchReport
    from edgeq.inspection import InspectResult
    from edgeq.mcu.bundle import ExportResult
    from edgeq.results import ConvertResult, ModeResult

_LAZY = {
    "convert": ("edgeq.api", "convert"),
    "inspect": ("edgeq.api", "inspect"),
    "export_mcu": ("edgeq.api", "export_mcu"),
    "export_android": ("edgeq.android.export", "export_android"),
    "qat": ("edgeq.api", "qat"),
    "benchmark": ("edgeq.api", "bench"),  # not "bench": edgeq.bench is the sub-package
    "BenchOptions": ("edgeq.bench.options", "BenchOptions"),
    "BenchReport": ("edgeq.bench.results", "BenchReport"),
    "ConvertResult": ("edgeq.results", "ConvertResult"),
    "ModeResult": ("edgeq.results", "ModeResult"),
    "InspectResult": ("edgeq.inspection", "InspectResult"),
    "ExportResult": ("edgeq.mcu.bundle", "ExportResult"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'edgeq' has no attribute {name!r}")
