"""Per-layer quantization error: the ranked error each int8 op adds, against rounding alone."""

from __future__ import annotations

from collections.abc import Iterator

from edgeq.report import plots
from edgeq.report.document import Block, Bullets, Columns, Missing, Paragraph, Plot, Plots, Table
from edgeq.report.sections import Context
from edgeq.results.layers import ranked
from edgeq.results.markdown import LAYER_COLUMNS, LAYER_NOTE, layer_rows

ROUNDING_ALONE = 0.29  # RMS error of rounding alone, in output steps: 1/sqrt(12)


def blocks(context: Context) -> Iterator[Block]:
    errors = ranked(context.convert.layer_errors or ())
    if not errors:
        context.missing.append("per-layer error")
        yield Missing(
            "Per-layer error not measured",
            "convert ran without --layer-report: set layer_report = true in edgeq.toml's [convert], "
            "or run edgeq convert ... --layer-report -o OUT/convert.",
        )
        return
    names = [f"{e.op} · {e.keras_layer or 'op ' + str(e.op_index)}" for e in errors]
    steps = [round(e.normalized, 6) for e in errors]  # at report.json's precision, as its table shows
    bars = [plots.Bar(name, step, "measured") for name, step in zip(names, steps, strict=True)]
    svg = plots.horizontal_bars(
        bars, "RMS error / output step", marker=ROUNDING_ALONE, marker_label="rounding alone", log=False
    )
    source = context.notes.figure("error / step", "measured", LAYER_NOTE)
    worst = steps[0]
    above = sum(1 for step in steps if step > ROUNDING_ALONE)
    summary = (
        f"Worst: {names[0]}, {worst:.3f} steps, {worst / ROUNDING_ALONE:.1f} times rounding alone.",
        f"{above} of {len(errors)} ops add more error than rounding alone ({ROUNDING_ALONE} steps): "
        "the candidates to keep in float (--max-drop) or to train for (edgeq qat).",
    )
    plot = Plots((Plot("Ranked per-layer error, worst first", svg, (source,)),))
    yield Columns((plot,), (Paragraph(LAYER_NOTE), Bullets(summary)))
    measured = ("error / step", "RMS error", "max abs error")
    columns = [context.notes.figure(c, "measured", LAYER_NOTE) if c in measured else c for c in LAYER_COLUMNS]
    numeric = [c not in ("op", "Keras layer") for c in LAYER_COLUMNS]
    yield Table.of(columns, layer_rows(context.convert), numeric)
