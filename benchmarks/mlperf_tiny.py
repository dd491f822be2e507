"""Instructions per inference of the four MLPerf Tiny models (edgeq's zoo, int8) on an emulated
Cortex-M4, next to the published MLPerf Tiny results on a real Cortex-M4F (STM32L4R5 at 120 MHz).

The published figures are milliseconds per inference (../shared/NOTES.md), turned into cycles by
multiplying by 120,000. edgeq's figures are counted instructions (exact) and estimated cycles
(edgeq/bench/costmodel.py: zero-wait memory, so optimistic against a part running from flash).
The ratios compare edgeq's C engine with each published runtime; below 1 means fewer.
The zoo models have seeded random weights with the MLPerf Tiny architectures, so their work per
inference is that of the real models (the same layers and shapes); only accuracy differs.

    .venv/bin/python benchmarks/mlperf_tiny.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

MODELS = ("kws", "vww", "ic", "ad")
# MLPerf Tiny, ms per inference on STM32L4R5 (Cortex-M4F, 120 MHz): KWS, VWW, IC, AD
PUBLISHED_MS = {
    "TFLM reference (v0.5)": (181.9, 600.6, 704.2, 10.1),
    "X-CUBE-AI 7.3 (v1.0)": (75.1, 230.5, 226.9, 7.6),
    "Plumerai (v1.0)": (71.7, 208.6, 173.2, 5.6),
    "microTVM+CMSIS-NN (v1.0)": (99.8, 301.2, 389.6, 8.6),
}
CLOCK_HZ = 120e6


def main() -> None:
    import edgeq
    from edgeq.zoo import ZOO, calibration_data

    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeq-mlperf-") as work:
        for name in MODELS:
            folder = Path(work)
            ZOO[name]().save(folder / f"{name}.keras")
            np.savez(folder / f"{name}.npz", x=calibration_data(name))
            converted = edgeq.convert(folder / f"{name}.keras", calib=folder / f"{name}.npz", mode="int8")
            path = folder / f"{name}_int8.tflite"
            path.write_bytes(converted.mode("int8").tflite)
            (result,) = edgeq.benchmark([path], ["cortex-m4"], clock=CLOCK_HZ).results
            if not result.ok:
                raise SystemExit(f"{name}: {result.error or 'output check failed'}")
            rows.append(
                (
                    name,
                    result.figure("instructions_per_inference").value,
                    result.figure("cycles_per_inference").value,
                    result.memory,
                )
            )
    print("edgeq C engine on emulated Cortex-M4 (QEMU mps2-an386), int8, output checked against TFLM\n")
    print(f"{'model':6} {'instructions':>14} {'est. cycles':>14} {'flash KB':>9} {'RAM KB':>7}")
    for name, instructions, cycles, memory in rows:
        print(
            f"{name:6} {instructions:>14,} {cycles:>14,} {memory['flash_bytes'] / 1024:>9.1f} "
            f"{memory['ram_bytes'] / 1024:>7.1f}"
        )
    print("\npublished cycles per inference (ms x 120,000) and edgeq's ratios to them")
    print(f"{'runtime':26} {'model':6} {'cycles':>12} {'instr. ratio':>13} {'est. cycles ratio':>18}")
    for runtime, milliseconds in PUBLISHED_MS.items():
        for (name, instructions, cycles, _), ms in zip(rows, milliseconds, strict=True):
            published = ms * CLOCK_HZ / 1e3
            print(
                f"{runtime:26} {name:6} {published:>12,.0f} {instructions / published:>13.2f} "
                f"{cycles / published:>18.2f}"
            )
    print(
        "\ninstr. ratio: edgeq's counted instructions / published cycles; est. cycles ratio: edgeq's "
        "estimated cycles / published cycles (an estimate, see edgeq/bench/costmodel.py)"
    )


if __name__ == "__main__":
    main()
