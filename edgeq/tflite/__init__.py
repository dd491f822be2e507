"""The .tflite side: a verifying flatbuffer reader and edgeq's immutable model description (IR).

Inspection, code generation and benchmarks read a ``ModelGraph``, never Keras objects.
"""

from edgeq.tflite.graph import ModelGraph, Operator, Quantization, Subgraph, Tensor
from edgeq.tflite.reader import read_tflite, read_tflite_file

__all__ = ["ModelGraph", "Operator", "Quantization", "Subgraph", "Tensor", "read_tflite", "read_tflite_file"]
