"""Reference models: Keras builders for standard workloads used by the demo, tests and benchmarks."""

from edgeq.zoo.digits import digits_cnn

__all__ = ["digits_cnn"]
