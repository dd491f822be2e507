"""Which kernels the engine generates for a core: the kernel paths and the cores that pick them.

* ``portable``: C99 only, no intrinsics; runs anywhere (host, Cortex-M0/M0+/M3, RISC-V, ...).
* ``dsp``: Armv7E-M / Armv8-M DSP extension (Cortex-M4, M7, M33, M35P): ``SMLAD`` two
  multiply-accumulates per instruction on operands widened with ``SXTB16``, via ACLE intrinsics
  (``arm_acle.h``).
* ``mve``: Helium (M-profile Vector Extension, Cortex-M55, M85): 16 int8 lanes per vector, via
  ``arm_mve.h``.

Packed int4 weights (``edgeq.engine.ops.int4``) have portable and DSP loops; the mve path uses
the portable int4 loops.

A path is chosen when the engine is generated, because the weights are stored in the order that
path's kernels read them; the generated kernels refuse (``#error``) a compiler that targets a core
without the path's instructions.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeq.errors import InputError


@dataclass(frozen=True)
class KernelPath:
    name: str
    description: str
    feature_macro: str | None  # the compiler's predefined macro the path needs
    conv_block: int  # output channels per pass of the convolution kernels
    conv_pixels: int  # output pixels per pass of the convolution kernels (im2col columns)
    chunk: int  # bytes of one weight row read per step (weights are interleaved in such chunks)


PATHS: dict[str, KernelPath] = {
    path.name: path
    for path in (
        KernelPath("portable", "portable C99", None, conv_block=2, conv_pixels=2, chunk=4),
        KernelPath(
            "dsp",
            "Arm DSP extension (SMLAD, SXTB16)",
            "__ARM_FEATURE_DSP",
            conv_block=2,
            conv_pixels=2,
            chunk=4,
        ),
        KernelPath(
            "mve",
            "Arm Helium (MVE, 16 int8 lanes)",
            "__ARM_FEATURE_MVE",
            conv_block=4,
            conv_pixels=1,
            chunk=16,
        ),
    )
}

# The kernel path each core gets (``--core``); "host" is the machine edgeq runs on.
CORES: dict[str, str] = {
    "portable": "portable",
    "host": "portable",
    "cortex-m0": "portable",
    "cortex-m0plus": "portable",
    "cortex-m3": "portable",
    "cortex-m4": "dsp",
    "cortex-m7": "dsp",
    "cortex-m33": "dsp",
    "cortex-m35p": "dsp",
    "cortex-m55": "mve",
    "cortex-m85": "mve",
}


def kernel_path(core: str) -> KernelPath:
    """The kernel path for ``core`` (a core name or a path name); InputError naming the choices."""
    name = CORES.get(core, core if core in PATHS else None)
    if name is None:
        raise InputError(f"unknown core {core!r}: choose from {', '.join(CORES)}")
    return PATHS[name]
