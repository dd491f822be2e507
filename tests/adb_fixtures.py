"""Fixtures of the adb runner's tests: real outputs of TensorFlow Lite's ``benchmark_model`` as
people published them (each names its source; long profiling tables are cut short, marked
``[...]``, every line kept is as printed), and minimal ELF headers standing in for its binary."""

import struct

EM_AARCH64, EM_ARM, EM_X86_64 = 183, 40, 62


def elf_executable(machine: int = EM_AARCH64, bits: int = 64, interpreter: str | None = None) -> bytes:
    """The ELF header (and, with ``interpreter``, one PT_INTERP program header) of an executable
    for ``machine``: enough for edgeq's check of a benchmark_model binary, not a runnable program."""
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1, 1]) + bytes(9)
    header_size, entry_size = (52, 32) if bits == 32 else (64, 56)
    count = 1 if interpreter else 0
    word = "I" if bits == 32 else "Q"
    header = ident + struct.pack(
        f"<HHI{word}{word}{word}IHHHHHH", 2, machine, 1, 0, header_size if count else 0, 0, 0,
        header_size, entry_size, count, 0, 0, 0,
    )  # fmt: skip
    if not interpreter:
        return header
    path = interpreter.encode() + b"\0"
    offset = header_size + entry_size
    if bits == 32:
        segment = struct.pack("<IIIIIIII", 3, offset, 0, 0, len(path), len(path), 4, 1)
    else:
        segment = struct.pack("<IIQQQQQQ", 3, 4, offset, 0, 0, len(path), len(path), 1)
    return header + segment + path


# lp6m/yolov5s_android, benchmark/README.md: benchmark_model built from TensorFlow v2.4.0 for
# android_arm64, run with `adb shell` on a Xiaomi Mi11 (int8 YOLOv5s, CPU, 4 threads). The README
# shows the tail of the output; 2.4 prints plain lines and "Peak memory footprint (MB)".
ANDROID_TF24 = """\
count=50 first=94518 curr=95117 min=93066 max=99490 avg=95788.3 std=1284
Inference timings in us: Init: 1779, First inference: 152949, Warmup (avg): 110690, Inference (avg): 95788.3
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=5.15625 overall=36.9883
"""

# Same source and phone: the NNAPI delegate (qti-default) refused the int8 model, so benchmark_model
# stopped before timing anything.
ANDROID_TF24_NNAPI_FAILURE = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [/data/local/tmp/yolov5s_int8_640.tflite]
#threads used for CPU inference: [4]
Use NNAPI: [1]
NNAPI execution preference: [sustained_speed]
NNAPI accelerator name: [qti-default]
NNAPI accelerators available: [qti-default,qti-dsp,qti-gpu,nnapi-reference]
Loaded model /data/local/tmp/yolov5s_int8_640.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite delegate for NNAPI.
ERROR: NN API returned error ANEURALNETWORKS_OP_FAILED at line 3779 while completing NNAPI compilation.

ERROR: Node number 248 (TfLiteNnapiDelegate) failed to prepare.

ERROR: Restored original execution plan after delegate application failure.
Failed to apply NNAPI delegate.
Benchmarking failed.
"""

# NobuoTsukamoto/meta-tensorflow-lite, doc/tensorflow-lite-benchmark.md: the Yocto layer's
# benchmark_model (TensorFlow Lite 2.8-era plain lines) on qemuriscv64, MobileNet v1, 4 threads,
# --enable_op_profiling=true. Its averages are in scientific notation, the warm-up line is the short
# "count=1 curr=..." form, and the profiler's own "Timings (microseconds): count=..." lines follow.
PLAIN_PROFILED = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [./mobilenet_v1_1.0_224.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Loaded model ./mobilenet_v1_1.0_224.tflite
The input model file size (MB): 16.9008
Initialized session in 17.187ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=1 curr=3512391

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798

Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=4.21094 overall=46.0859
Profiling Info for Benchmark Initialization:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t         AllocateTensors\t            0.000\t    1.356\t    1.356\t100.000%\t100.000%\t     0.000\t        1\tAllocateTensors/0

Timings (microseconds): count=1 curr=1356
Memory (bytes): count=0
1 nodes observed

Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t                 CONV_2D\t            0.066\t   87.754\t   60.957\t  2.066%\t  2.066%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0
[...]
Timings (microseconds): count=50 first=2989660 curr=2912978 min=2727203 max=3189476 avg=2.9499e+06 std=109770
Memory (bytes): count=0
31 nodes observed
"""

# synaptics-synap/doc, manual/jit_compilation.md: `adb shell benchmark_model` on an Android board
# (Synaptics' build of TensorFlow Lite 2.15.0, which prints its version), MobileNet v1 0.25 quantized
# through NNAPI. 2.1x versions prefix every line with its log level.
ANDROID_TF215 = """\
INFO: STARTING!
INFO: Tensorflow Version : 2.15.0
INFO: Log parameter values verbosely: [0]
INFO: Graph: [/data/local/tmp/mobilenet_v1_0.25_224_quant.tflite]
INFO: Use NNAPI: [1]
INFO: NNAPI accelerator name: [synap-npu]
INFO: NNAPI accelerators available: [synap-npu,nnapi-reference]
INFO: Loaded model /data/local/tmp/mobilenet_v1_0.25_224_quant.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite delegate for NNAPI.
INFO: NNAPI delegate created.
WARNING: NNAPI SL driver did not implement SL_ANeuralNetworksDiagnostic_registerCallbacks!
VERBOSE: Replacing 31 out of 31 node(s) with delegate (TfLiteNnapiDelegate) node, yielding 1 partitions for the whole graph.
INFO: Explicitly applied NNAPI delegate, and the model graph will be completely executed by the delegate.
INFO: The input model file size (MB): 0.497264
INFO: Initialized session in 66.002ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=1 curr=637079

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=520 first=2531 curr=2793 min=1171 max=9925 avg=1885.74 std=870

INFO: Inference timings in us: Init: 66002, First inference: 637079, Warmup (avg): 637079, Inference (avg): 1885.74
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=7.40234 overall=7.83203
"""

# yogeshhegde/processor-sdk-doc (TI's Processor SDK documentation),
# source/linux/Foundational_Components/Machine_Learning/tflite.rst: TensorFlow Lite 2.18.0's
# benchmark_model on an AM62x board, SSD MobileNet v2, 4 threads, --use_xnnpack=false. The newest
# format: statistics end with p5, median and p95.
LINUX_TF218 = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Graph: [/usr/share/oob-demo-assets/models/ssd_mobilenet_v2_coco.tflite]
INFO: Signature to run: []
INFO: Use xnnpack: [0]
INFO: Loaded model /usr/share/oob-demo-assets/models/ssd_mobilenet_v2_coco.tflite
INFO: The input model file size (MB): 67.3128
INFO: Initialized session in 5.579ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=1 curr=1357602 p5=1357602 median=1357602 p95=1357602

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=1249964 curr=1240143 min=1238588 max=1252566 avg=1.24027e+06 std=2565 p5=1238753 median=1239807 p95=1247415

INFO: Inference timings in us: Init: 5579, First inference: 1357602, Warmup (avg): 1.3576e+06, Inference (avg): 1.24027e+06
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=6.36328 overall=109.832
"""
