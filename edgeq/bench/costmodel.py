"""Estimated cycles from counted instructions: a documented per-core cost model.

QEMU models no timing, so a cycle figure is always an estimate. edgeq counts every executed
instruction by mnemonic (its QEMU plugin), sorts mnemonics into classes, and charges each class the
cycles the core's Technical Reference Manual gives for it, assuming zero-wait-state memory (code
and data in TCM or SRAM, no flash wait states, no cache misses) and no interrupts:

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
* Cortex-M55: ARM publishes no timing table for scalar code; charged as the Cortex-M4 with
  single-cycle loads (its 64-bit TCM interface). Helium (MVE) vector instructions are charged 2
  per beat-wise instruction of 128 bits; GCC 12 does not emit them for edgeq's C, so in practice
  this is scalar code.

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
)

# cycles per instruction of each class, per core (see the module docstring for the sources)
_M3 = {"alu": 1, "mul": 1, "mac": 2, "long_mul": 4.5, "div": 7, "load": 2, "store": 1, "multiple": 4,
       "branch": 3, "cond_branch": 2, "fp": 1, "vector": 2}  # fmt: skip
_M4 = {**_M3, "mac": 1, "long_mul": 1}  # single-cycle multiply-accumulate, long and DSP multiplies
COSTS: dict[str, dict[str, float]] = {
    "cortex-m3": _M3,
    "cortex-m4": _M4,
    "cortex-m7": {**_M4, "alu": 0.5, "load": 1, "multiple": 3, "branch": 1, "cond_branch": 1},
    "cortex-m55": {**_M4, "load": 1},  # the M4's costs with its 64-bit TCM's single-cycle loads
}

HOW = (
    "estimate: counted instructions by class x per-class cycles from the core's reference manual, "
    "zero-wait-state memory (edgeq/bench/costmodel.py)"
)


def _base(mnemonic: str) -> str:
    return mnemonic.lower().split(".")[0]  # ldr.w → ldr, vldrb.s8 → vldrb


def classify(mnemonic: str) -> str:
    """The cost class of a Thumb mnemonic as QEMU's disassembler prints it."""
    m = _base(mnemonic)
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
    if m.startswith("ldr") or m.startswith("lda"):
        return "load"
    if m.startswith("str") or m.startswith("stl"):
        return "store"
    if m.startswith("v"):
        return "fp"
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
