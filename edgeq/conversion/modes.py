"""The quantization modes edgeq converts to, and how ``--mode`` / ``--io`` select them.

A *variant* is one output file: a quantization scheme plus the type of its input/output tensors.
Full-integer schemes default to integer I/O (what TensorFlow Lite Micro wants); ``--io float``
keeps float I/O with quantize/dequantize ops inside the model.

The low-bit schemes (``int4``, ``dynamic-int4``, ``dynamic-int2``; see ``edgeq.conversion.lowbit``)
are converted to float32 by TFLiteConverter and then quantized by ai-edge-quantizer; they are asked
for by name (``all`` keeps the six TFLiteConverter variants). ``int4`` always has int8 I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeq.errors import InputError

SCHEMES = ("float32", "float16", "dynamic", "int8", "int16x8", "int4", "dynamic-int4", "dynamic-int2")
INTEGER_SCHEMES = {"int8": "int8", "int16x8": "int16"}
LOWBIT_SCHEMES = ("int4", "dynamic-int4", "dynamic-int2")
BLOCKS = (32, 64, 128)  # --block: weights per scale of dynamic-int4
IO_CHOICES = ("auto", "float")


@dataclass(frozen=True)
class Variant:
    """One conversion: ``scheme`` from SCHEMES and the I/O tensor type (float32, int8 or int16)."""

    scheme: str
    io: str
    block: int | None = None  # dynamic-int4 only: weights per scale (None: per channel)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise InputError(f"unknown mode {self.scheme!r}: choose from {', '.join(SCHEMES)}, all")
        allowed = (
            ("int8",) if self.scheme == "int4" else ("float32", INTEGER_SCHEMES.get(self.scheme, "float32"))
        )
        if self.io not in allowed:
            raise InputError(f"mode {self.scheme} cannot have {self.io} input/output")
        if self.block is not None and (self.scheme != "dynamic-int4" or self.block not in BLOCKS):
            raise InputError(f"--block {self.block} does not apply to mode {self.scheme}")

    @property
    def key(self) -> str:
        """Name used in file names and reports, e.g. ``int8``, ``int8_float_io``, ``dynamic_int4_b32``."""
        if self.scheme in INTEGER_SCHEMES and self.io == "float32":
            return f"{self.scheme}_float_io"
        key = self.scheme.replace("-", "_")
        return f"{key}_b{self.block}" if self.block else key

    @property
    def label(self) -> str:
        if self.scheme in INTEGER_SCHEMES and self.io == "float32":
            return f"{self.scheme} (float I/O)"
        return f"{self.scheme} (block {self.block})" if self.block else self.scheme

    @property
    def needs_calibration(self) -> bool:
        return self.scheme in INTEGER_SCHEMES or self.scheme == "int4"

    @property
    def lowbit(self) -> bool:
        """Quantized by ai-edge-quantizer from the float32 file (see ``edgeq.conversion.lowbit``)."""
        return self.scheme in LOWBIT_SCHEMES


ALL_VARIANTS = (
    Variant("float32", "float32"),
    Variant("float16", "float32"),
    Variant("dynamic", "float32"),
    Variant("int8", "int8"),
    Variant("int8", "float32"),
    Variant("int16x8", "int16"),
)


def parse_modes(mode: str, io: str = "auto", block: int | None = None) -> tuple[Variant, ...]:
    """Turn ``--mode`` (a name, a comma-separated list, or ``all``), ``--io`` and ``--block`` into
    variants.

    Raises InputError for unknown names and for ``--io`` / ``--block`` values that do not apply.
    """
    if block is not None and block not in BLOCKS:
        raise InputError(f"--block must be one of {', '.join(map(str, BLOCKS))}, got {block}")
    if io not in IO_CHOICES:
        raise InputError(f"unknown --io {io!r}: choose from {', '.join(IO_CHOICES)}")
    names = [name.strip().lower() for name in mode.split(",") if name.strip()]
    if not names:
        raise InputError(f"--mode is empty: choose from {', '.join(SCHEMES)}, all")
    if "all" in names:
        if len(names) > 1 or io != "auto":
            raise InputError(
                "--mode all stands alone and already includes int8 with float I/O: drop the rest"
            )
        if block is not None:
            raise InputError("--block applies to dynamic-int4, which --mode all does not include: name it")
        return ALL_VARIANTS
    for name in names:
        if name not in SCHEMES:
            raise InputError(f"unknown mode {name!r}: choose from {', '.join(SCHEMES)}, all")
    if io == "float" and not any(name in INTEGER_SCHEMES for name in names):
        raise InputError(
            "--io float applies to int8 and int16x8; float modes always have float I/O, int4 int8 I/O"
        )
    if io == "float" and "int4" in names:
        raise InputError("mode int4 has int8 input/output only: drop --io float or convert int4 separately")
    if block is not None and "dynamic-int4" not in names:
        raise InputError("--block applies to mode dynamic-int4: add it to --mode or drop --block")
    variants = [_variant(name, io, block) for name in names]
    return tuple(dict.fromkeys(variants))


def _variant(name: str, io: str, block: int | None) -> Variant:
    if name == "int4":
        return Variant(name, "int8")
    if name == "dynamic-int4":
        return Variant(name, "float32", block)
    return Variant(name, "float32" if io == "float" or name not in INTEGER_SCHEMES else INTEGER_SCHEMES[name])
