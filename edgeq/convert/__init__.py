"""Keras loading, TFLiteConverter modes and evaluation: the stages that touch TensorFlow."""
