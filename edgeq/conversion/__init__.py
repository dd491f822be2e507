"""Keras loading, TFLiteConverter modes and evaluation: the stages that touch TensorFlow.

Named `conversion` rather than `convert` so that `edgeq.convert()`, the public function, is never
shadowed by a sub-package of the same name.
"""
