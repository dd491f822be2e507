"""The four MLPerf Tiny models (edgeq's zoo, int8) through edgeq's C engine on an emulated
Cortex-M4 (DSP kernel path) and Cortex-M55 (Helium kernel path), next to TensorFlow Lite Micro's
measured arena and the published MLPerf Tiny results on a real Cortex-M4F (STM32L4R5, 120 MHz).

Counted instructions are exact (QEMU and edgeq's counting plugin, per inference). Estimated cycles
are an estimate (edgeq/bench/costmodel.py: zero-wait memory, so optimistic against a part running
from flash); QEMU models no cycles. The published figures are milliseconds per inference
(../shared/NOTES.md; mlcommons/tiny_results_v1.0 and v1.1), turned into cycles by multiplying by
120,000. The ratios compare edgeq's C engine with each published runtime; below 1 means fewer.
The zoo models have seeded random weights with the MLPerf Tiny architectures, so their work per
inference is that of the real models (the same layers and shapes); only accuracy differs.

    .venv/bin/python benchmarks/mlperf_tiny.py
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODELS = ("kws", "vww", "ic", "ad")
TARGETS = ("cortex-m4", "cortex-m55")
# MLPerf Tiny, ms per inference on STM32L4R5 (Cortex-M4F, 120 MHz): KWS, VWW, IC, AD
PUBLISHED_MS = {
    "TFLM reference (v0.5)": (181.9, 600.6, 704.2, 10.1),
    "X-CUBE-AI 7.3 (v1.0)": (75.06, 230.47, 226.91, 7.58),
    "ST (v1.1)": (62.87, 118.69, 214.00, 6.86),
    "Plumerai (v1.1)": (47.78, 98.76, 167.76, 4.05),
}
CLOCK_HZ = 120e6
LEGEND = (
    "instr.: counted instructions per inference (exact); est. cyc.: estimated cycles (an estimate, "
    "see edgeq/bench/costmodel.py).",
    "M4 instr. ratio: edgeq's counted instructions / published cycles (near a lower bound on a cycle "
    "ratio: the M4 issues at most one instruction per cycle);",
    "M4 est. cyc. ratio: edgeq's estimated cycles / published cycles.",
    "RAM KB: activation buffer + C library data + measured stack peak; flash KB: model constants + "
    "engine code + C library (benchmark harness excluded).",
    "TFLM's arena is measured on a 64-bit host build: an upper bound for a 32-bit MCU.",
)


@dataclass(frozen=True)
class Row:
    name: str
    instructions: dict[str, int]  # per target, counted
    cycles: dict[str, int]  # per target, estimated
    flash_bytes: int  # Cortex-M4 firmware, harness excluded
    ram_bytes: int  # Cortex-M4 firmware: activation buffer + C library data + stack peak
    buffer_bytes: int  # the engine's one activation buffer
    tflm_arena_bytes: int


def measure(name: str, folder: Path) -> Row:
    import edgeq
    from edgeq.runtimes.runners import check_tflm
    from edgeq.zoo import ZOO, calibration_data

    ZOO[name]().save(folder / f"{name}.keras")
    np.savez(folder / f"{name}.npz", x=calibration_data(name))
    converted = edgeq.convert(folder / f"{name}.keras", calib=folder / f"{name}.npz", mode="int8")
    path = folder / f"{name}_int8.tflite"
    path.write_bytes(converted.mode("int8").tflite)
    results = {
        result.target: result for result in edgeq.benchmark([path], list(TARGETS), clock=CLOCK_HZ).results
    }
    for target, result in results.items():
        if not result.ok or not result.output_check.passed:
            raise SystemExit(f"{name} on {target}: {result.error or 'output check failed'}")
        if "TensorFlow Lite Micro" not in result.output_check.compared_with:
            raise SystemExit(f"{name} on {target}: the output was not checked against TFLM")
    tflm = check_tflm(path.read_bytes())
    if tflm.arena is None:
        raise SystemExit(f"{name}: TensorFlow Lite Micro cannot run it ({tflm.reason})")
    m4 = results["cortex-m4"].memory
    return Row(
        name,
        {t: r.figure("instructions_per_inference").value for t, r in results.items()},
        {t: r.figure("cycles_per_inference").value for t, r in results.items()},
        m4["flash_bytes"],
        m4["ram_bytes"],
        m4["ram"]["activation_buffer"],
        tflm.arena.minimum_bytes,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="edgeq-mlperf-") as work:
        rows = [measure(name, Path(work)) for name in MODELS]
    print(
        "edgeq C engine, int8, on emulated Cortex-M4 (QEMU mps2-an386, DSP kernels) and Cortex-M55 "
        "(QEMU mps3-an547, Helium kernels);\noutputs bit-exact with TensorFlow Lite Micro on both\n"
    )
    print(
        f"{'model':6} {'M4 instr.':>12} {'M4 est. cyc.':>13} {'M55 instr.':>12} {'M55 est. cyc.':>14} "
        f"{'M55/M4 instr.':>14} {'flash KB':>9} {'RAM KB':>7}"
    )
    for row in rows:
        m4, m55 = row.instructions["cortex-m4"], row.instructions["cortex-m55"]
        print(
            f"{row.name:6} {m4:>12,} {row.cycles['cortex-m4']:>13,} "
            f"{m55:>12,} {row.cycles['cortex-m55']:>14,} "
            f"{m55 / m4:>14.2f} {row.flash_bytes / 1024:>9.1f} {row.ram_bytes / 1024:>7.1f}"
        )
    print("\nRAM against TensorFlow Lite Micro's measured minimum arena (tflite-micro, 64-bit host build)")
    print(
        f"{'model':6} {'TFLM arena KB':>14} {'engine buffer KB':>17} "
        f"{'buffer/arena':>13} {'M4 RAM/arena':>13}"
    )
    for row in rows:
        print(
            f"{row.name:6} {row.tflm_arena_bytes / 1024:>14.1f} {row.buffer_bytes / 1024:>17.1f} "
            f"{row.buffer_bytes / row.tflm_arena_bytes:>13.2f} {row.ram_bytes / row.tflm_arena_bytes:>13.2f}"
        )
    print(
        "\npublished MLPerf Tiny cycles per inference on STM32L4R5 (ms x 120,000), "
        "and edgeq's Cortex-M4 ratios"
    )
    print(
        f"{'runtime':22} {'model':6} {'ms':>8} {'cycles':>12} "
        f"{'M4 instr. ratio':>16} {'M4 est. cyc. ratio':>19}"
    )
    for runtime, milliseconds in PUBLISHED_MS.items():
        for row, ms in zip(rows, milliseconds, strict=True):
            published = ms * CLOCK_HZ / 1e3
            print(
                f"{runtime:22} {row.name:6} {ms:>8.2f} {published:>12,.0f} "
                f"{row.instructions['cortex-m4'] / published:>16.2f} "
                f"{row.cycles['cortex-m4'] / published:>19.2f}"
            )
    print()
    print("\n".join(LEGEND))


if __name__ == "__main__":
    main()
