"""Interpreters edgeq runs models in: LiteRT and TensorFlow Lite Micro, each in a crash-safe child process.

Below every stage that needs a real interpreter (conversion, mcu, engine, bench, inspection); imports
only ``edgeq.errors`` and ``edgeq.tflite``.
"""
