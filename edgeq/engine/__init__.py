"""edgeq's own C engine (issue [engine]): integer arithmetic matching TensorFlow Lite Micro.

So far: the fixed-point helpers and a numpy reference of TFLM's int8 kernels, from which the C
generator will take its constants and against which the generated C will be tested.
"""
