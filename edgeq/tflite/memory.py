"""edgeq's offline memory plan for activations: tensor lifetimes packed into one arena.

Each non-constant tensor of the main subgraph lives from the operator that writes it (the start,
for model inputs) to the last operator that reads it (the end, for model outputs). Sizes are
rounded up to 16 bytes, TFLite Micro's buffer alignment. Tensors are placed largest first at the
lowest offset not overlapping any placed tensor whose lifetime overlaps (greedy by size, the
strategy of TFLite Micro's GreedyMemoryPlanner). ``peak_bytes`` is the arena the plan needs;
``lower_bound_bytes`` the most bytes alive at any one operator, which no plan can beat.
"""

from __future__ import annotations

from collections.abc import Callable
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
    overlapping_pairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_bytes": self.peak_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "live_bytes_per_op": list(self.live_bytes_per_op),
            "alignment": ALIGNMENT,
            "strategy": "greedy by size, first fit"
            + (
                f", {self.overlapping_pairs} outputs overlapping their dying input"
                if self.overlapping_pairs
                else ", no in-place reuse"
            ),
        }


def scratch_id(op: int) -> int:
    """The placement id of operator ``op``'s scratch buffer (see ``plan_memory``)."""
    return -1 - op


def _aligned(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_memory(
    graph: ModelGraph,
    aliases: dict[int, int] | None = None,
    overlap_delta: Callable[[int, int, int], int | None] | None = None,
    longest_chain: int = 0,
    scratch: dict[int, int] | None = None,
) -> MemoryPlan:
    """Plan the main subgraph.

    ``aliases`` maps a tensor to the one whose memory it shares (a RESHAPE output to its input):
    the pair is planned as one tensor living as long as both.

    ``overlap_delta(op, input, output)`` (optional) says how an op's output may overlap one of its
    inputs that dies at that op: the output may start ``delta`` bytes below the input (so that
    writing the output never overwrites input bytes the kernel still reads), or None when it may
    not. Such pairs are placed together as one rigid block; the plan then needs less than the sum
    of live tensors (``lower_bound_bytes`` is still the no-overlap bound). A chain of overlaps
    (a → b → c ...) is one block; ``longest_chain`` (if not 0) caps its number of tensors, since a
    long rigid block can drift and fragment the arena.

    ``scratch`` maps an operator to the bytes of working memory its kernel needs while it runs
    (an im2col buffer): each is planned like a tensor alive at that operator only, with the id
    ``scratch_id(op)`` (negative, so it never collides with a tensor index).
    """
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
    sizes = {
        t: _aligned(subgraph.tensors[t].nbytes)
        for t in sorted(first)
        if not subgraph.tensors[t].is_constant and not subgraph.tensors[t].is_variable
    }
    for op_index, size in sorted((scratch or {}).items()):
        if size > 0:
            ident = scratch_id(op_index)
            sizes[ident] = _aligned(size)
            first[ident] = last[ident] = op_index
    # rigid blocks: tensor -> (block id, offset within the block)
    block_of: dict[int, tuple[int, int]] = {t: (t, 0) for t in sizes}
    members: dict[int, list[int]] = {t: [t] for t in sizes}
    outputs = {root(t) for t in subgraph.outputs}
    for op in subgraph.operators if overlap_delta else ():
        if len(op.outputs) != 1 or root(op.outputs[0]) not in sizes:
            continue
        produced = root(op.outputs[0])
        best: tuple[int, int, int] | None = None  # (saving, input, delta)
        for t in op.inputs:
            if t < 0 or subgraph.tensors[t].is_constant or root(t) not in sizes:
                continue
            source = root(t)
            full = longest_chain and len(members[block_of[source][0]]) >= longest_chain
            if last[source] != op.index or source in outputs or full:
                continue
            delta = overlap_delta(op.index, t, op.outputs[0])
            if delta is None:
                continue
            delta = _aligned(delta)
            saving = sizes[source] + sizes[produced] - max(sizes[produced], delta + sizes[source])
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, source, delta)
        if best is None:
            continue
        _, source, delta = best
        block, inner = block_of[source]
        block_of[produced] = (block, inner - delta)
        members[block].append(produced)
        del members[produced]
    placed: list[Placement] = []

    def extent(block: int) -> int:
        return max(block_of[t][1] + sizes[t] for t in members[block]) - min(
            block_of[t][1] for t in members[block]
        )

    order = sorted(members, key=lambda b: (-extent(b), min(first[t] for t in members[b]), b))
    for block in order:
        low = min(block_of[t][1] for t in members[block])
        parts = [(t, block_of[t][1] - low) for t in members[block]]
        candidates = sorted({0, *(p.offset + p.size - rel for p in placed for _, rel in parts)})
        for base in candidates:
            if base < 0:
                continue
            if all(
                base + rel + sizes[t] <= p.offset or p.offset + p.size <= base + rel
                for t, rel in parts
                for p in placed
                if p.first_op <= last[t] and first[t] <= p.last_op
            ):
                break
        placed.extend(Placement(t, base + rel, sizes[t], first[t], last[t]) for t, rel in parts)
    live = tuple(
        sum(size for t, size in sizes.items() if first[t] <= op <= last[t])
        for op in range(len(subgraph.operators) or 1)
    )
    return MemoryPlan(
        peak_bytes=max((p.offset + p.size for p in placed), default=0),
        lower_bound_bytes=max(live, default=0),
        placements=tuple(sorted(placed, key=lambda p: p.tensor)),
        live_bytes_per_op=live,
        overlapping_pairs=sum(len(group) - 1 for group in members.values()),
    )
