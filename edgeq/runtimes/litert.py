"""LiteRT (``ai_edge_litert``) in this process: run a model on float inputs, get float outputs."""

from __future__ import annotations

import numpy as np

from edgeq.errors import InputError, first_line
from edgeq.runtimes.tensors import dequantize, output_order_key, quantize, tensor_info

REFERENCE_KERNELS = (
    "LiteRT BUILTIN_REF (reference kernels; TensorFlow Lite Micro matches them bit for bit except "
    "FULLY_CONNECTED, which can differ by 1 at rounding ties)"
)


class TFLiteRunner:
    """A LiteRT interpreter for one model, fed float inputs and returning float outputs.

    Integer inputs are quantized and integer outputs dequantized with the tensors' own scale and
    zero point, as application code on a device would. Outputs come in the order of the
    converter's signature (``output_0``, ``output_1``, ...), which is the Keras model's order.
    """

    def __init__(self, tflite: bytes, reference_kernels: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
        try:
            self._interpreter = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"LiteRT cannot load the model ({first_line(exc)})") from exc
        self._input_index = [d["index"] for d in self._interpreter.get_input_details()]
        self._output_index = self._signature_output_order()
        details = {d["index"]: d for d in self._interpreter.get_tensor_details()}
        self.inputs = tuple(tensor_info(details[i]) for i in self._input_index)
        self.outputs = tuple(tensor_info(details[i]) for i in self._output_index)
        self.ops = tuple(op["op_name"] for op in self._interpreter._get_ops_details())

    def _signature_output_order(self) -> list[int]:
        outputs = [d["index"] for d in self._interpreter.get_output_details()]
        signatures = self._interpreter.get_signature_list()
        if len(signatures) != 1:
            return outputs
        runner = self._interpreter.get_signature_runner(next(iter(signatures)))
        named = runner.get_output_details()
        ordered = sorted(named, key=output_order_key)
        indices = [named[name]["index"] for name in ordered]
        return indices if sorted(indices) == sorted(outputs) else outputs

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Invoke once per sample of ``x``; returns one float32 array per output."""
        if len(self._input_index) != 1:
            raise InputError("edgeq evaluates single-input models only")
        info = self.inputs[0]
        collected: list[list[np.ndarray]] = [[] for _ in self._output_index]
        for sample in x:
            self._interpreter.set_tensor(self._input_index[0], quantize(sample[np.newaxis], info))
            self._interpreter.invoke()
            for slot, (index, out_info) in enumerate(zip(self._output_index, self.outputs, strict=True)):
                collected[slot].append(dequantize(self._interpreter.get_tensor(index), out_info))
        return [np.concatenate(parts) for parts in collected]
