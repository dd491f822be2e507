"""Versions and toolchains as run.json, convert/report.json and bench.json report them; a component
reported with different versions is highlighted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from edgeq.report.document import Block, Bullets, Table
from edgeq.report.sections import Context


def blocks(context: Context) -> Iterator[Block]:
    folder = context.folder
    reported: dict[tuple[str, str], list[str]] = {}

    def add(source: str, versions: Mapping[str, object]) -> None:
        for name, version in versions.items():
            key = (str(name).lower().replace("_", "-"), str(version))  # ai_edge_litert = ai-edge-litert
            if source not in reported.setdefault(key, []):
                reported[key].append(source)

    documents = [("run", folder.run), ("convert", folder.convert)]
    if folder.bench is not None:
        documents.append(("bench", folder.bench))
    for source, document in documents:
        add(source, {"edgeq": document.edgeq_version} if document.edgeq_version else {})
        add(source, document.environment)
    for result in folder.bench.results if folder.bench is not None else ():
        add(f"bench ({result.target})", result.toolchain)
    versions_of: dict[str, int] = {}
    for name, _ in reported:
        versions_of[name] = versions_of.get(name, 0) + 1
    rows, styles = [], []
    for (name, version), sources in sorted(reported.items()):
        if "bench" in sources:  # bench's own environment covers what its targets report
            sources = [source for source in sources if not source.startswith("bench (")]
        rows.append((name, version, ", ".join(sources)))
        styles.append("warn" if versions_of[name] > 1 else "")
    columns = ("component", "version", "reported by")
    yield Table.of(columns, rows, (False, False, False), styles, caption="Environment")
    if any(styles):
        yield Bullets(("Highlighted: a component that different files report with different versions.",))
