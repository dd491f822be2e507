"""Estimated cycles from counted instructions: a documented per-core cost model.

QEMU models no timing, so a cycle figure is always an estimate. edgeq counts every executed
instruction by mnemonic (its QEMU plugin), sorts mnemonics into classes, and charges each class the
cycles the core's Technical Reference Manual gives for it, assuming zero-wait-state memory (code
and data in TCM or SRAM, no flash wait states, no cache misses) and no interrupts:

* Cortex-M0 (ARM DDI 0432, Table 3-1 "Cortex-M0 instruction summary"): data processing 1; MULS
  1 with the fast multiplier or 32 with the small one, an implementation option: charged 1 (the
  fast one; the nRF51 documents consulted do not say which one the nRF51822 of QEMU's
  ``microbit`` has, and with the small one every MULS costs 31 cycles more); every
  load and store 2; LDM/STM/PUSH/POP 1 + N (charged 4; POP with PC 4 + N); B, BX and BLX 3, BL 4
  (charged 3); B<cond> 3 taken and 1 not taken (charged 2). ARMv6-M has no MLA, long multiply,
  divide or FPU: GCC calls libgcc for them, whose instructions are counted as they run.
* Cortex-M3 (ARM DDI 0337, "Processor instruction timings"): data processing 1; MUL 1; MLA/MLS 2;
  SMULL/UMULL 3-5 (charged 4); SMLAL/UMLAL 4-7 (charged 5); SDIV/UDIV 2-12 (charged 7); single
  load 2; single store 1 (the write buffer hides the data phase); LDM/STM/PUSH/POP 1 + N (N
  unknown from the mnemonic: charged 4); branches 1 + P with P = 1-3 when taken: unconditional
  charged 3, conditional charged 2 (about half taken).
* Cortex-M4 (ARM DDI 0439, "Instruction set summary"): as the M3, but every multiply and
  multiply-accumulate, long ones and the DSP extension's SMLAD-style instructions take 1 cycle.
* Cortex-M7: ARM publishes no timing table. The M7 issues two instructions per cycle in many
  pairings, has a branch predictor, and loads from TCM in 1 cycle (measurements by quinapalus.com
  on an STM32H7): data processing charged 0.5, loads and stores 1, multiplies 1, branches 1.
* Cortex-M33: ARM publishes no instruction timing table (its Technical Reference Manual, ARM
  100230, has none). The M33 has the M4's 3-stage pipeline and the same DSP extension, and
  vendors describe its multiply-accumulate as single-cycle (Nordic's nRF5340 and nRF54L product
  specifications, CPU chapter): charged as the Cortex-M4.
* Cortex-M55: ARM publishes no timing table for scalar code; charged as the Cortex-M4 with
  single-cycle loads (its 64-bit TCM interface). Helium (MVE) vector instructions are charged 2
  per beat-wise instruction of 128 bits (the M55 executes two 32-bit beats per cycle). GCC 12
  does not auto-vectorise C; only kernels written with ``arm_mve.h`` contain them.

Vector or floating point, from the mnemonic alone: an instruction with a floating-point type
(``.f32``, ``.f16``, ``.f64``) or with none (``vmov``, ``vldr``, ``vmrs``) is a scalar FPU one; one
with an integer or size type (``vmladava.s8``, ``vmla.i32``, ``vdup.8``) or with an MVE-only name
(``vpst``, ``vpsel``, ``vldrb``) is a vector one. A floating-point MVE instruction (``vadd.f32
q0, q1, q2``) cannot be told from the scalar one and is charged as ``fp``; edgeq's kernels are
integer. QEMU 7.2 as Debian builds it disassembles with Capstone 4, which predates MVE and
Armv8.1-M: it prints MVE loads and stores as ``ldc``/``stc`` (classed ``vector``: no other
coprocessor exists on these cores), some MVE integer instructions under their Neon names
(``vadd.i8``, ``vdup.8``) and the rest, with the low-overhead-loop branches (``dls``, ``le``), as
``.byte``. Those are the ``undecoded`` class, charged 2 like a vector instruction or a loop branch.

The latency estimate is cycles divided by the clock given with ``--clock``. Real parts usually run
slower than this, because of flash wait states and bus contention; expect the estimate to be
optimistic for code and data in flash.
"""

from __future__ import annotations

from collections.abc import Mapping

CONDITIONS = (
    "eq",
    "ne",
    "cs",
    "hs",
    "cc",
    "lo",
    "mi",
    "pl",
    "vs",
    "vc",
    "hi",
    "ls",
    "ge",
    "lt",
    "gt",
    "le",
    "al",
)

CLASSES = (
    "alu",
    "mul",
    "mac",
    "long_mul",
    "div",
    "load",
    "store",
    "multiple",
    "branch",
    "cond_branch",
    "fp",
    "vector",
    "undecoded",
)

# cycles per instruction of each class, per core (see the module docstring for the sources)
_M3 = {"alu": 1, "mul": 1, "mac": 2, "long_mul": 4.5, "div": 7, "load": 2, "store": 1, "multiple": 4,
       "branch": 3, "cond_branch": 2, "fp": 1, "vector": 2, "undecoded": 2}  # fmt: skip
_M4 = {**_M3, "mac": 1, "long_mul": 1}  # single-cycle multiply-accumulate, long and DSP multiplies
COSTS: dict[str, dict[str, float]] = {
    "cortex-m0": {**_M3, "store": 2},  # the M3's figures but 2-cycle stores (DDI 0432)
    "cortex-m3": _M3,
    "cortex-m4": _M4,
    "cortex-m33": _M4,
    "cortex-m7": {**_M4, "alu": 0.5, "load": 1, "multiple": 3, "branch": 1, "cond_branch": 1},
    "cortex-m55": {**_M4, "load": 1},  # the M4's costs with its 64-bit TCM's single-cycle loads
}

HOW = (
    "estimate: counted instructions by class x per-class cycles from the core's reference manual, "
    "zero-wait-state memory (edgeq/bench/costmodel.py)"
)


_FLOAT_TYPES = ("f16", "f32", "f64", "bf16")
# MVE (and Neon) names without a scalar floating-point instruction of the same name
_VECTOR_ONLY = ("vand", "vbic", "veor", "vorn", "vorr", "vmvn", "vpsel", "vpnot", "vpst", "vpt", "vctp")
# Capstone 4's names for MVE instructions: the coprocessor encodings they reuse (module docstring)
_COPROCESSOR = ("ldc", "ldcl", "ldc2", "ldc2l", "stc", "stcl", "stc2", "stc2l", "cdp", "cdp2", "mcr",
                "mcr2", "mcrr", "mcrr2", "mrc", "mrc2", "mrrc", "mrrc2")  # fmt: skip


def _base(mnemonic: str) -> str:
    return mnemonic.lower().split(".")[0]  # ldr.w → ldr, vldrb.s8 → vldrb


def _vector_or_fp(mnemonic: str) -> str:
    """``vector`` for an MVE/Neon instruction, ``fp`` for a scalar FPU one (module docstring)."""
    base, *types = mnemonic.lower().split(".")
    if base in _VECTOR_ONLY:
        return "vector"
    if any(kind in _FLOAT_TYPES for kind in types):
        return "fp"
    return "vector" if types else "fp"


def classify(mnemonic: str) -> str:
    """The cost class of a Thumb mnemonic as QEMU's disassembler prints it."""
    m = _base(mnemonic)
    if m in ("", "?"):  # ".byte ...": the disassembler could not decode it
        return "undecoded"
    if m in ("b", "bl", "blx", "bx", "tbb", "tbh"):
        return "branch"
    if m in ("cbz", "cbnz") or (m.startswith("b") and len(m) == 3 and m[1:] in CONDITIONS):
        return "cond_branch"
    if m in ("le", "letp", "wls", "wlstp", "dls", "dlstp"):  # v8.1-M low-overhead loops
        return "cond_branch"
    if m in ("sdiv", "udiv"):
        return "div"
    if m in (
        "smull",
        "umull",
        "smlal",
        "umlal",
        "umaal",
        "smlald",
        "smlaldx",
        "smlsld",
        "smlsldx",
    ) or m.startswith("smlal"):
        return "long_mul"
    if m in ("mla", "mls") or m.startswith(("smla", "smls", "smmla", "smmls", "smuad", "smusd")):
        return "mac"
    if m in ("mul", "muls") or m.startswith(("smul", "smmul")):
        return "mul"
    if m.startswith(("ldm", "stm", "push", "pop", "vpush", "vpop", "vldm", "vstm")):
        return "multiple"
    if m.startswith(("vldr", "vld")):
        return "load" if m == "vldr" else "vector"
    if m.startswith(("vstr", "vst")):
        return "store" if m == "vstr" else "vector"
    if m in _COPROCESSOR:
        return "vector"
    if m.startswith("ldr") or m.startswith("lda"):
        return "load"
    if m.startswith("str") or m.startswith("stl"):
        return "store"
    if m.startswith("v"):
        return _vector_or_fp(mnemonic)
    return "alu"


def class_counts(mnemonics: Mapping[str, int]) -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, 0)
    for mnemonic, count in mnemonics.items():
        counts[classify(mnemonic)] += count
    return counts


def estimate_cycles(core: str, mnemonics: Mapping[str, int], runs: int) -> float:
    """Estimated cycles of one run, from mnemonic counts summed over ``runs`` runs."""
    costs = COSTS[core]
    total = sum(costs[cls] * count for cls, count in class_counts(mnemonics).items())
    return total / max(runs, 1)
