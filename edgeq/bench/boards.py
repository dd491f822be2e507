"""The emulated Cortex-M boards edgeq benchmarks on: QEMU machine, core, compiler flags, memory map.

Memory sizes are those of the emulated board (QEMU's model of it), which is what the linker
script uses; ``--flash``/``--ram`` on the command line shrink them to a real part's budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from edgeq.errors import InputError

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Board:
    target: str
    machine: str
    cpu: str
    gcc_flags: tuple[str, ...]
    flash_name: str
    flash_origin: int
    flash_size: int
    ram_name: str
    ram_origin: int
    ram_size: int
    fpu: bool
    mve: bool = False
    description: str = ""
    uart: int | None = None  # CMSDK APB UART0 base, for serial self-test firmware
    clock_mhz: int = 25  # the core clock QEMU models (SysTick counts it)
    # RAM the linker reserves for the call stack: the engine's measured peak is well under 1 KB
    # on the MLPerf Tiny models, so a small board keeps most of its RAM for the model.
    stack_bytes: int = 8 * KB

    def limited(self, flash: int | None, ram: int | None) -> Board:
        """This board with at most ``flash`` / ``ram`` bytes (a real part's budget)."""
        return replace(
            self,
            flash_size=min(self.flash_size, flash) if flash else self.flash_size,
            ram_size=min(self.ram_size, ram) if ram else self.ram_size,
        )


_M3_FLAGS = ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft")
_MPS2_MAP = {
    "flash_name": "ZBT SSRAM1",
    "flash_origin": 0x0,
    "flash_size": 4 * MB,
    "ram_name": "ZBT SSRAM2/3",
    "ram_origin": 0x20000000,
    "ram_size": 4 * MB,
    "uart": 0x40004000,
}

BOARDS: dict[str, Board] = {
    board.target: board
    for board in (
        Board(
            "cortex-m0",
            "microbit",
            "cortex-m0",
            ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"),
            # QEMU's hw/arm/nrf51_soc.c: the nRF51822's 256 and 16 pages of 1 KB, HCLK 16 MHz
            flash_name="flash",
            flash_origin=0x0,
            flash_size=256 * KB,
            ram_name="SRAM",
            ram_origin=0x20000000,
            ram_size=16 * KB,
            fpu=False,
            description="BBC micro:bit (Nordic nRF51822, Cortex-M0, 256 KB flash, 16 KB SRAM)",
            clock_mhz=16,
            stack_bytes=2 * KB,
        ),
        Board(
            "cortex-m3",
            "mps2-an385",
            "cortex-m3",
            _M3_FLAGS,
            fpu=False,
            description="Arm MPS2 AN385 (Cortex-M3)",
            **_MPS2_MAP,
        ),
        Board(
            "cortex-m4",
            "mps2-an386",
            "cortex-m4",
            ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
            fpu=True,
            description="Arm MPS2 AN386 (Cortex-M4F)",
            **_MPS2_MAP,
        ),
        Board(
            "cortex-m7",
            "mps2-an500",
            "cortex-m7",
            ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
            fpu=True,
            description="Arm MPS2 AN500 (Cortex-M7, double-precision FPU)",
            **_MPS2_MAP,
        ),
        Board(
            "cortex-m33",
            "mps2-an505",
            "cortex-m33",
            ("-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"),
            # The core starts in the Secure state with its vector table at 0x10000000 (the IoT
            # Kit's reset SVTOR, hw/arm/armsse.c), so the image sits in the Secure aliases (address
            # bit 28 set) of SSRAM1 (4 MB at 0x00000000) and SSRAM2/3 (2 + 2 MB at 0x28000000),
            # hw/arm/mps2-tz.c's an505_raminfo; SYSCLK 20 MHz.
            flash_name="ZBT SSRAM1 (Secure alias)",
            flash_origin=0x10000000,
            flash_size=4 * MB,
            ram_name="ZBT SSRAM2/3 (Secure alias)",
            ram_origin=0x38000000,
            ram_size=4 * MB,
            fpu=True,
            description="Arm MPS2 AN505 (Cortex-M33 with DSP and FPU)",
            clock_mhz=20,
        ),
        Board(
            "cortex-m55",
            "mps3-an547",
            "cortex-m55",
            ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
            flash_name="ITCM",
            flash_origin=0x0,
            flash_size=512 * KB,
            ram_name="DTCM",
            ram_origin=0x20000000,
            ram_size=512 * KB,
            fpu=True,
            mve=True,
            description="Arm MPS3 AN547 (Cortex-M55 with Helium)",
        ),
        Board(
            "lm3s6965",
            "lm3s6965evb",
            "cortex-m3",
            _M3_FLAGS,
            flash_name="flash",
            flash_origin=0x0,
            flash_size=256 * KB,
            ram_name="SRAM",
            ram_origin=0x20000000,
            ram_size=64 * KB,
            fpu=False,
            description="TI Stellaris LM3S6965 (Cortex-M3, 256 KB flash, 64 KB SRAM)",
        ),
    )
}


def board(target: str) -> Board:
    """The board for a Cortex-M target name; InputError listing the valid names otherwise."""
    try:
        return BOARDS[target]
    except KeyError:
        raise InputError(f"unknown Cortex-M target {target!r}: choose from {', '.join(BOARDS)}") from None
