"""Pure parts of ``edgeq bench``: option parsing, the cost model's classes, the map-file reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeq.bench import parse_clock, parse_size, parse_targets
from edgeq.bench.costmodel import COSTS, classify, estimate_cycles
from edgeq.bench.elfmap import read_map, split_memory
from edgeq.errors import InputError


def test_options_parse_and_refuse_clearly():
    assert (
        parse_clock("120MHz") == 120e6 and parse_clock("1.2GHz") == 1.2e9 and parse_clock("48000000") == 48e6
    )
    assert parse_size("--ram", "256KB") == 256 * 1024 and parse_size("--flash", "1MB") == 1 << 20
    assert parse_targets("host, cortex-m4,host") == ("host", "cortex-m4")
    with pytest.raises(InputError, match="--clock takes a frequency"):
        parse_clock("fast")
    with pytest.raises(InputError, match=r"unknown target 'cortex-m1'.*cortex-m4"):
        parse_targets("cortex-m1")


@pytest.mark.parametrize(
    ("mnemonic", "kind"),
    [("ldrsb", "load"), ("ldr.w", "load"), ("strd", "store"), ("mla", "mac"), ("smlabb", "mac"), ("mul", "mul"),
     ("smull", "long_mul"), ("bne", "cond_branch"), ("cbz", "cond_branch"), ("b", "branch"), ("bl", "branch"),
     ("bic", "alu"), ("bfi", "alu"), ("push", "multiple"), ("sdiv", "div"), ("vldrb.s8", "vector"), ("it", "alu")],
)  # fmt: skip
def test_mnemonics_fall_into_the_right_cost_class(mnemonic, kind):
    assert classify(mnemonic) == kind


def test_cycle_estimate_is_the_class_weighted_sum():
    counts = {"ldrsb": 200, "mla": 100, "add": 300, "bne": 100}  # two inferences
    m3, m4 = COSTS["cortex-m3"], COSTS["cortex-m4"]
    assert estimate_cycles("cortex-m4", counts, 2) == (200 * m4["load"] + 100 * m4["mac"] + 300 + 100 * 2) / 2
    assert estimate_cycles("cortex-m3", counts, 2) > estimate_cycles("cortex-m4", counts, 2)  # MLA: 2 cycles
    assert m3["mac"] == 2 and m4["mac"] == 1


MAP = """\
Memory Configuration
Linker script and memory map

.text           0x00000000      0x200
 .vectors       0x00000000       0x40 /w/startup.o
 .text.model_invoke
                0x00000040       0x80 /w/model.o
                0x00000040                model_invoke
 .text.edgeq_conv
                0x000000c0       0x60 /w/edgeq_kernels.o
 .text          0x00000120       0x20 /usr/lib/arm-none-eabi/lib/libc_nano.a(lib_a-memcpy.o)
 .rodata.model_w0
                0x00000140       0x3d /w/model.o
 *fill*         0x0000017d        0x3
 .rodata.input  0x00000180       0x80 /w/bench_main.o
.data           0x20000000        0x8 load address 0x00000200
 .data.impure   0x20000000        0x8 /usr/lib/libc_nano.a(lib_a-impure.o)
.bss            0x20000008      0x110
 .bss.arena_storage
                0x20000008      0x100 /w/model.o
 .bss.output    0x20000108       0x10 /w/bench_main.o
.stack          0x20000118     0x2000
.debug_info     0x00000000      0x999
 .debug_info    0x00000000      0x999 /usr/lib/libc_nano.a(lib_a-memcpy.o)
"""


def test_map_file_split_attributes_every_byte(tmp_path: Path):
    path = tmp_path / "x.map"
    path.write_text(MAP)
    split = split_memory(read_map(path), stack_peak=300)
    assert split.model_constants == 0x40  # 0x3d + 3 bytes of fill after it
    assert split.engine_code == 0x80 + 0x60
    assert split.runtime_library_flash == 0x20 + 0x8  # memcpy and the .data load image
    assert split.harness_flash == 0x40 + 0x80
    assert split.image_flash_bytes == 0x208
    assert split.activation_buffer == 0x100 and split.harness_ram == 0x10 and split.runtime_library_ram == 0x8
    assert split.ram_bytes == 0x100 + 0x8 + 300
