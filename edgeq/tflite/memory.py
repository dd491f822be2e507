"""edgeq's offline memory plan for activations: tensor lifetimes packed into one arena.

Each non-constant tensor of the main subgraph lives from the operator that writes it (the start,
for model inputs) to the last operator that reads it (the end, for model outputs). Sizes are
rounded up to 16 bytes, TFLite Micro's buffer alignment. Tensors are placed largest first at the
lowest offset not overlapping any placed tensor whose lifetime overlaps (greedy by size, the
strategy of TFLite Micro's GreedyMemoryPlanner). ``peak_bytes`` is the arena the plan needs;
``lower_bound_bytes`` the most bytes alive at any one operator, which no plan can beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeq.tflite.graph import ModelGraph

ALIGNMENT = 16


@dataclass(frozen=True)
class Placement:
    tensor: int
    offset: int
    size: int
    first_op: int
    last_op: int


@dataclass(frozen=True)
class MemoryPlan:
    peak_bytes: int
    lower_bound_bytes: int
    placements: tuple[Placement, ...]
    live_bytes_per_op: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_bytes": self.peak_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "live_bytes_per_op": list(self.live_bytes_per_op),
            "alignment": ALIGNMENT,
            "strategy": "greedy by size, first fit, no in-place reuse",
        }


def _aligned(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_memory(graph: ModelGraph, aliases: dict[int, int] | None = None) -> MemoryPlan:
    """Plan the main subgraph. ``aliases`` maps a tensor to the one whose memory it shares (a
    RESHAPE output to its input): the pair is planned as one tensor living as long as both."""
    aliases = aliases or {}
    subgraph = graph.main

    def root(tensor: int) -> int:
        while tensor in aliases:
            tensor = aliases[tensor]
        return tensor

    last_op = max(len(subgraph.operators) - 1, 0)
    first: dict[int, int] = {root(t): 0 for t in subgraph.inputs}
    last: dict[int, int] = {root(t): last_op for t in subgraph.outputs}
    for op in subgraph.operators:
        for t in map(root, op.outputs):
            first.setdefault(t, op.index)
            last[t] = max(last.get(t, op.index), op.index)
        for t in op.inputs:
            if t >= 0 and not subgraph.tensors[t].is_constant:
                t = root(t)
                first.setdefault(t, op.index)
                last[t] = max(last.get(t, op.index), op.index)
    tensors = [
        (t, _aligned(subgraph.tensors[t].nbytes), first[t], last[t])
        for t in sorted(first)
        if not subgraph.tensors[t].is_constant and not subgraph.tensors[t].is_variable
    ]
    placed: list[Placement] = []
    for tensor, size, start, end in sorted(tensors, key=lambda item: (-item[1], item[2], item[0])):
        overlapping = sorted(
            (p.offset, p.offset + p.size) for p in placed if p.first_op <= end and start <= p.last_op
        )
        offset = 0
        for low, high in overlapping:
            if offset + size <= low:
                break
            offset = max(offset, high)
        placed.append(Placement(tensor, offset, size, start, end))
    live = tuple(
        sum(size for _, size, start, end in tensors if start <= op <= end)
        for op in range(len(subgraph.operators) or 1)
    )
    return MemoryPlan(
        peak_bytes=max((p.offset + p.size for p in placed), default=0),
        lower_bound_bytes=max(live, default=0),
        placements=tuple(sorted(placed, key=lambda p: p.tensor)),
        live_bytes_per_op=live,
    )
