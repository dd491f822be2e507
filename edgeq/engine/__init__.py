"""edgeq's own C engine: a model compiled ahead of time into dependency-free C99 whose integer
arithmetic matches TensorFlow Lite Micro's bit for bit.

``generate`` turns a ModelGraph into sources through the per-op lowerings in ``ops`` (registry in
``lowering``), laid out by the memory plan with overlaps (``inplace``); ``host`` compiles them with
gcc; ``validate`` compares them with TFLM; ``report`` states their RAM and constants. ``reference``
is a numpy model of a few TFLM kernels, kept as an independent check of ``params``.
"""
