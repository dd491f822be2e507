"""The emulated Cortex-M boards' descriptions, the linker script and start-up rendered for them, and
the cost model's classes for the mnemonics QEMU prints (scalar FPU against MVE vector)."""

from __future__ import annotations

import pytest

from edgeq import templates
from edgeq.bench.boards import BOARDS, KB, MB
from edgeq.bench.costmodel import CLASSES, COSTS, classify, estimate_cycles


def _render(name: str, target: str) -> str:
    context = {"banner": "test", "board": BOARDS[target], "stack_bytes": 8192, "uart": None}
    return templates.environment().get_template(f"bench/cortex-m/{name}.j2").render(context)


def test_the_new_boards_match_qemus_machines():
    m33, m0 = BOARDS["cortex-m33"], BOARDS["cortex-m0"]
    assert (m33.machine, m33.cpu, m33.clock_mhz) == ("mps2-an505", "cortex-m33", 20)
    # Secure aliases of SSRAM1 and SSRAM2/3 (hw/arm/mps2-tz.c; the IoT Kit's SVTOR is 0x10000000)
    assert (m33.flash_origin, m33.flash_size, m33.ram_origin, m33.ram_size) == (
        0x10000000, 4 * MB, 0x38000000, 4 * MB
    )  # fmt: skip
    assert m33.fpu and not m33.mve and "-mfpu=fpv5-sp-d16" in m33.gcc_flags
    assert "-mfloat-abi=hard" in m33.gcc_flags
    assert (m0.machine, m0.cpu, m0.clock_mhz) == ("microbit", "cortex-m0", 16)
    assert (m0.flash_origin, m0.flash_size, m0.ram_origin, m0.ram_size) == (
        0x0, 256 * KB, 0x20000000, 16 * KB
    )  # fmt: skip
    assert not m0.fpu and "-mfloat-abi=soft" in m0.gcc_flags


def test_every_board_has_a_cost_table_with_every_class():
    for board in BOARDS.values():
        assert set(COSTS[board.cpu]) == set(CLASSES), board.target


def test_the_linker_script_places_the_m33_image_in_the_secure_aliases():
    script = _render("link.ld", "cortex-m33")
    assert "FLASH (rx) : ORIGIN = 0x10000000, LENGTH = 4194304" in script
    assert "RAM (rwx) : ORIGIN = 0x38000000, LENGTH = 4194304" in script
    assert "ORIGIN = 0x20000000, LENGTH = 16384" in _render("link.ld", "cortex-m0")


def test_start_up_enables_the_fpu_on_the_m33_and_nothing_armv6m_lacks_on_the_m0():
    m33, m0 = _render("startup.c", "cortex-m33"), _render("startup.c", "cortex-m0")
    assert "0xE000ED88u" in m33 and "dsb" in m33
    assert "0xE000ED88u" not in m0 and "dsb" not in m0  # no FPU; no barrier needed
    assert "bkpt 0xab" in m0  # semihosting: BKPT exists in ARMv6-M


@pytest.mark.parametrize(
    ("mnemonic", "kind"),
    [
        # MVE as a disassembler that knows it prints them (binutils, Capstone 5)
        ("vldrb.s8", "vector"), ("vldrw.u32", "vector"), ("vstrb.8", "vector"), ("vmladava.s8", "vector"),
        ("vmla.i32", "vector"), ("vdup.8", "vector"), ("vctp.8", "vector"), ("vpst", "vector"),
        ("vqrdmulh.s32", "vector"), ("vaddv.s8", "vector"), ("vorr", "vector"), ("vpsel", "vector"),
        # MVE as QEMU 7.2's Capstone 4 prints them: Neon names, coprocessor loads, undecoded bytes
        ("vadd.i8", "vector"), ("vmax.s8", "vector"), ("vshr.s32", "vector"), ("vmov.i32", "vector"),
        ("ldc", "vector"), ("stc", "vector"), (".byte", "undecoded"), ("?", "undecoded"),
        # scalar FPU instructions stay scalar
        ("vmul.f32", "fp"), ("vadd.f32", "fp"), ("vfma.f32", "fp"), ("vmla.f32", "fp"), ("vmov", "fp"),
        ("vmov.f32", "fp"), ("vcvt.s32.f32", "fp"), ("vcvt.f32.s32", "fp"), ("vcmp.f32", "fp"),
        ("vmrs", "fp"), ("vldr", "load"), ("vldr.16", "load"), ("vstr", "store"), ("vpush", "multiple"),
        ("vldmia", "multiple"),
        # Armv8.1-M scalar instructions and the ARMv6-M ones of the M0
        ("le", "cond_branch"), ("dls", "cond_branch"), ("csel", "alu"), ("muls", "mul"), ("adds", "alu"),
    ],
)  # fmt: skip
def test_vector_and_scalar_fp_mnemonics_fall_into_their_classes(mnemonic, kind):
    assert classify(mnemonic) == kind


def test_m0_and_m33_costs_follow_their_sources():
    m0, m3, m33, m4 = COSTS["cortex-m0"], COSTS["cortex-m3"], COSTS["cortex-m33"], COSTS["cortex-m4"]
    # DDI 0432: loads and stores 2, taken branches 3, MULS 1 (the fast multiplier)
    assert (m0["load"], m0["store"], m0["branch"], m0["mul"], m0["alu"]) == (2, 2, 3, 1, 1)
    assert m0["store"] > m3["store"]  # the M3 hides a store's data phase; the M0 does not
    assert m33 == m4  # no ARM table for the M33: charged as the M4 (the module docstring says why)
    counts = {"ldrb": 100, "strb": 100, "muls": 50, "adds": 200, "bne": 50}
    assert estimate_cycles("cortex-m0", counts, 1) == 100 * 2 + 100 * 2 + 50 + 200 + 50 * 2
    assert estimate_cycles("cortex-m0", counts, 1) > estimate_cycles("cortex-m33", counts, 1)
    assert estimate_cycles("cortex-m55", {".byte": 10, "vldrb.s8": 5}, 1) == 10 * 2 + 5 * 2
