"""Generate edgeq's C engine for one integer model: weights and derived constants as const arrays,
one static activation buffer laid out by the offline memory plan, and a straight-line invoke().

Every constant the kernels need (Q31 multipliers and shifts, paddings, clamp ranges) is computed
at generation time by the lowerings (``edgeq.engine.ops``), so the C only does integer arithmetic.
Nothing is written here: the caller gets the files' text, or an UnsupportedError that names every
op the engine cannot compile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeq import templates
from edgeq.cnames import c_float, c_identifier, c_ints, suggest_identifier
from edgeq.engine import ops  # noqa: F401  (registers the lowerings)
from edgeq.engine.inplace import overlap_delta
from edgeq.engine.lowering import (
    ALIASES,
    C_TYPES,
    KINDS,
    LOWERINGS,
    Builder,
    Layer,
    find_lowering,
    op_kind,
    scratch_bytes,
    tflm_refusal,
)
from edgeq.engine.ops.int16 import sigmoid_table
from edgeq.engine.paths import KernelPath, kernel_path
from edgeq.errors import UnsupportedError
from edgeq.tflite.graph import ModelGraph, Tensor
from edgeq.tflite.memory import MemoryPlan, plan_memory, scratch_id
from edgeq.version import __version__

TFLM_HINT = "use a TensorFlow Lite Micro template (edgeq export mcu --template plain|arduino|...)"


@dataclass(frozen=True)
class EngineSource:
    """The generated files (name → text), the activation buffer size (scratch buffers included)
    and the memory plan, the C type and element count of ``invoke()``'s first input and first
    output (``io``), of every input and output in ``invoke()``'s order (``inputs``, ``outputs``:
    name, C type, element count), and the kernel path the files were generated for."""

    files: dict[str, str]
    arena_bytes: int
    constant_bytes: int
    plan: MemoryPlan
    groups: tuple[str, ...]
    io: tuple[tuple[str, int], tuple[str, int]]
    path: str = "portable"
    scratch_bytes: int = 0  # the largest scratch buffer of one op (planned inside the arena)
    inputs: tuple[tuple[str, str, int], ...] = ()
    outputs: tuple[tuple[str, str, int], ...] = ()


def supported_opcodes() -> tuple[str, ...]:
    return tuple(sorted({*LOWERINGS, *ALIASES}))


def supported_kinds() -> dict[str, tuple[str, ...]]:
    """Opcode → the kinds (int8, int16, float32) the engine has kernels for; aliases run on all."""
    table = {opcode: tuple(k for k in KINDS if k in kinds) for opcode, kinds in LOWERINGS.items()}
    table.update({opcode: KINDS for opcode in ALIASES})
    return dict(sorted(table.items()))


def supported_ops_markdown() -> str:
    """The Markdown table of what the engine runs, per op and kind, generated from the lowering
    registry (the README holds a copy that ``tools/engine_ops_table.py --write`` refreshes and a
    test compares)."""
    kinds = supported_kinds()
    lines = [
        "| op | int8 | int16 (16x8) | float32 |",
        "|---|---|---|---|",
    ]
    for opcode, supported in kinds.items():
        alias = opcode in ALIASES
        cells = ["alias"] * 3 if alias else ["yes" if kind in supported else "" for kind in KINDS]
        lines.append(f"| {opcode} | {' | '.join(cells)} |")
    pairs = sum(len(v) for k, v in kinds.items() if k not in ALIASES)
    lines.append("")
    lines.append(
        f'{len(kinds)} ops, {pairs} (op, type) kernels; "alias": the output is the input\'s bytes '
        "under another shape, no code. Generated from the engine's lowering registry."
    )
    return "\n".join(lines)


def _missing(graph: ModelGraph) -> list[str]:
    """``OPCODE`` (no kernel at all) or ``OPCODE on int16`` (none for that kind), sorted."""
    found = set()
    for op in graph.main.operators:
        if op.opcode in ALIASES or find_lowering(graph.main, op) is not None:
            continue
        found.add(op.opcode if op.opcode not in LOWERINGS else f"{op.opcode} on {op_kind(graph.main, op)}")
    return sorted(found)


def check_supported(graph: ModelGraph) -> None:
    """UnsupportedError naming every op the engine has no kernel for, and other blockers. Ops
    TensorFlow Lite Micro cannot run either are named with TFLM's reason, without the hint to
    use TFLM."""
    subgraph = graph.main
    refused = {}
    for op in subgraph.operators:
        reason = tflm_refusal(subgraph, op)
        if reason is not None and find_lowering(subgraph, op) is None and op.opcode not in ALIASES:
            refused.setdefault(reason, op.index)
    if refused:
        listed = "; ".join(f"{reason} (op {index})" for reason, index in refused.items())
        raise UnsupportedError(
            f"neither edgeq's C engine nor TensorFlow Lite Micro runs this model: {listed}: "
            "replace the layer or choose another --mode"
        )
    missing = _missing(graph)
    if missing:
        raise UnsupportedError(f"edgeq's C engine does not support {', '.join(missing)} yet: {TFLM_HINT}")
    if not subgraph.inputs or not subgraph.outputs:
        raise UnsupportedError(f"the model has no inputs or no outputs: {TFLM_HINT}")
    for index in (*subgraph.inputs, *subgraph.outputs):
        tensor = subgraph.tensors[index]
        if any(d < 0 for d in tensor.shape_signature[1:]) or len(graph.subgraphs) > 1:
            raise UnsupportedError(
                f"tensor {tensor.name} has a dynamic shape: the engine needs static shapes"
            )


# Chain caps tried by plan_engine_memory (0: uncapped); None: no overlaps at all.
CHAIN_CAPS = (None, 0, 2, 3, 4, 6, 8)


def plan_engine_memory(
    graph: ModelGraph, aliases: dict[int, int], scratch: dict[int, int] | None = None
) -> MemoryPlan:
    """The smallest of a few greedy plans: without overlaps, and with outputs overlapping their
    dying inputs in chains of several capped lengths (which packs best depends on the model).
    ``scratch``: bytes of working memory per op (the kernels' im2col buffers)."""
    subgraph = graph.main

    def delta(op: int, source: int, output: int) -> int | None:
        return overlap_delta(subgraph, subgraph.operators[op], source, output)

    plans = [
        plan_memory(graph, aliases, scratch=scratch)
        if cap is None
        else plan_memory(graph, aliases, delta, longest_chain=cap, scratch=scratch)
        for cap in CHAIN_CAPS
    ]
    return min(plans, key=lambda plan: plan.peak_bytes)  # first of equals: deterministic


def kernel_files(groups: tuple[str, ...] | list[str], path: str = "portable") -> dict[str, str]:
    """``edgeq_kernels.c`` and ``.h`` with the kernel groups ``groups`` for kernel path ``path``
    (the same for every model that uses the same groups and path, so several models can share
    one copy)."""
    chosen = kernel_path(path)
    groups = with_needed_groups(groups)
    context = {
        "kernels_banner": (
            f"generated by edgeq {__version__} — do not edit. Kernels: {', '.join(groups)}; "
            f"path: {chosen.name} ({chosen.description})"
        ),
        "kernel_groups": sorted(groups),
        "path": chosen,
        "int16_sigmoid_table": c_ints(sigmoid_table(), per_line=11),
    }
    environment = templates.environment()
    return {
        "edgeq_kernels.c": environment.get_template("engine/edgeq_kernels.c.j2").render(context),
        "edgeq_kernels.h": environment.get_template("engine/edgeq_kernels.h.j2").render(context),
    }


# kernel groups whose code calls another group's helpers (the int4 kernels use core's im2col)
NEEDS_GROUPS = {"core_s4": "core"}


def with_needed_groups(groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``groups`` and the groups they need, sorted."""
    return tuple(sorted({*groups, *(NEEDS_GROUPS[g] for g in groups if g in NEEDS_GROUPS)}))


def all_groups() -> tuple[str, ...]:
    return tuple(sorted({group for kinds in LOWERINGS.values() for group, _ in kinds.values()}))


def op_support(graph: ModelGraph) -> list[str | None]:
    """Per op of the main subgraph: None when the engine compiles it, else the reason it does not
    (the lowering's own check, run on its own)."""
    subgraph = graph.main
    builder = Builder(subgraph=subgraph, name="probe", offsets=lambda tensor: 0)
    reasons: list[str | None] = []
    for op in subgraph.operators:
        if op.opcode in ALIASES:
            reasons.append(None)
            continue
        found = find_lowering(subgraph, op)
        if found is None and tflm_refusal(subgraph, op):
            reasons.append(f"{tflm_refusal(subgraph, op)}, and neither has the engine")
            continue
        if found is None:
            kind = op_kind(subgraph, op)
            reasons.append(f"no {op.opcode} kernel for {kind} tensors" if op.opcode in LOWERINGS
                           else f"no {op.opcode} kernel")  # fmt: skip
            continue
        try:
            found[1](builder, op)
            reasons.append(None)
        except UnsupportedError as exc:
            reasons.append(str(exc))
    return reasons


def scratch_sizes(graph: ModelGraph, path: KernelPath | str = "portable") -> dict[int, int]:
    """Bytes of scratch each op's kernel needs on ``path`` (ops that need none left out)."""
    chosen = kernel_path(path) if isinstance(path, str) else path
    sizes = {op.index: scratch_bytes(graph.main, op, chosen) for op in graph.main.operators}
    return {op: size for op, size in sizes.items() if size}


def generate_engine(graph: ModelGraph, name: str, core: str = "portable") -> EngineSource:
    """The C sources for ``graph``: ``<name>.c``, ``<name>.h``, ``edgeq_kernels.c``, ``edgeq_kernels.h``,
    with the kernels of ``core``'s path (see ``edgeq.engine.paths``: a core name or a path name)."""
    c_identifier(name)
    path: KernelPath = kernel_path(core)
    check_supported(graph)
    subgraph = graph.main
    aliases = {op.outputs[0]: op.inputs[0] for op in subgraph.operators if op.opcode in ALIASES}
    scratch = scratch_sizes(graph, path)
    plan = plan_engine_memory(graph, aliases, scratch)
    offsets = {p.tensor: p.offset for p in plan.placements}

    def offset(tensor: int) -> int:
        while tensor in aliases:
            tensor = aliases[tensor]
        return offsets[tensor]

    def scratch_offset(op: int) -> int:
        return offsets[scratch_id(op)]

    builder = Builder(subgraph=subgraph, name=name, offsets=offset, path=path, scratch=scratch_offset)
    layers: list[Layer] = []
    problems: list[str] = []
    for op in subgraph.operators:
        if op.opcode in ALIASES:
            continue
        try:
            layers.append(find_lowering(subgraph, op)[1](builder, op))  # type: ignore[index]
        except UnsupportedError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UnsupportedError(f"{problems[0]}{more}: {TFLM_HINT}")
    groups = with_needed_groups([layer.group for layer in layers])
    names = io_names(graph)

    def describe(tensor: Tensor) -> dict[str, Any]:
        quantization = tensor.quantization
        return {
            "name": names[tensor.index],
            "NAME": names[tensor.index].upper(),
            "size": tensor.elements,
            "bytes": tensor.nbytes,
            "ctype": C_TYPES[tensor.dtype],
            "scale": c_float(quantization.scales[0]) if quantization else "1.0f",
            "zero_point": quantization.zero_points[0] if quantization else 0,
            "offset": offset(tensor.index),
        }

    inputs = [describe(subgraph.tensors[i]) for i in subgraph.inputs]
    outputs = [describe(subgraph.tensors[i]) for i in subgraph.outputs]
    source_io, target_io = inputs[0], outputs[0]
    context = {
        "banner": (
            f"generated by edgeq {__version__} — do not edit. Model sha256 {graph.sha256}; "
            f"kernel path: {path.name} ({path.description})"
        ),
        "name": name,
        "NAME": name.upper(),
        "arrays": builder.arrays,
        "layers": layers,
        "input": source_io,
        "output": target_io,
        "inputs": inputs,
        "outputs": outputs,
        "single": len(inputs) == 1 and len(outputs) == 1,
        "arena_size": max(plan.peak_bytes, 16),
    }
    constant_bytes = sum(
        int(array["count"]) * {"int8_t": 1, "uint8_t": 1, "int16_t": 2}.get(array["ctype"], 4)
        for array in builder.arrays
    )
    environment = templates.environment()
    files = {
        f"{name}.c": environment.get_template("engine/model.c.j2").render(context),
        f"{name}.h": environment.get_template("engine/model.h.j2").render(context),
        **kernel_files(groups, path.name),
    }
    return EngineSource(
        files=files,
        arena_bytes=context["arena_size"],
        constant_bytes=constant_bytes,
        plan=plan,
        groups=groups,
        io=((source_io["ctype"], source_io["size"]), (target_io["ctype"], target_io["size"])),
        path=path.name,
        scratch_bytes=max(scratch.values(), default=0),
        inputs=tuple((t["name"], t["ctype"], t["size"]) for t in inputs),
        outputs=tuple((t["name"], t["ctype"], t["size"]) for t in outputs),
    )


def io_names(graph: ModelGraph) -> dict[int, str]:
    """A C identifier per input and output tensor of the main subgraph: its name in the model's
    signature (the Keras input and output names), else its tensor name, made a valid identifier
    and unique (``input`` / ``output`` for a model with one input and one output)."""
    subgraph = graph.main
    if len(subgraph.inputs) == 1 and len(subgraph.outputs) == 1:
        return {subgraph.inputs[0]: "input", subgraph.outputs[0]: "output"}
    signature = dict(graph.io_names)
    names: dict[int, str] = {}
    for index in (*subgraph.inputs, *subgraph.outputs):
        if index in names:
            continue
        base = suggest_identifier(signature.get(index) or subgraph.tensors[index].name).lower()[:40]
        name, number = base, 1
        while name in names.values() or name in ("arena", "arena_storage"):
            number += 1
            name = f"{base}_{number}"
        names[index] = name
    return names
