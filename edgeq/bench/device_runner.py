"""edgeq's LiteRT benchmark runner: one self-contained file that needs only numpy and
``ai_edge_litert`` (or the older ``tflite_runtime``), so edgeq can run it on this machine, inside
an emulated aarch64 root filesystem, or copy it to a board.

    python device_runner.py request.json  →  one JSON object on standard output

The request names the models (and optionally a raw input tensor ``.npy`` for each), the resolver,
threads, warm-up and timed runs. Models are loaded one after another, then timed interleaved
(run r of every model before run r + 1 of any), so that a machine's drift affects all alike.
With ``"markers": true`` each timed invoke is bracketed by two harmless failing ``lseek`` calls
that edgeq's QEMU plugin recognises, to count the instructions of exactly that invoke.
"""

import contextlib
import json
import os
import sys
import time

BEGIN_MAGIC = 0xED6E0001
END_MAGIC = 0xED6E0002


def _marker(value):
    with contextlib.suppress(OSError):
        os.lseek(-1, value, 0)


def _interpreter_class():
    try:
        from ai_edge_litert import interpreter as litert

        return litert.Interpreter, getattr(litert, "OpResolverType", None), "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as litert

        return litert.Interpreter, getattr(litert, "OpResolverType", None), "tflite_runtime"
    except ImportError:
        return None, None, None


def _resident_kb():
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


def _peak_kb():
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):
        return None


def run(request):
    import numpy as np

    interpreter_class, resolver_types, package = _interpreter_class()
    if interpreter_class is None:
        return {"ok": False, "error": "missing_runtime", "python": sys.version.split()[0]}
    options = {"num_threads": int(request.get("threads", 1))}
    resolver = request.get("resolver", "default")
    if resolver != "default":
        if resolver_types is None:
            return {"ok": False, "error": f"this {package} cannot select the {resolver} resolver"}
        names = {"reference": "BUILTIN_REF", "no_xnnpack": "BUILTIN_WITHOUT_DEFAULT_DELEGATES"}
        options["experimental_op_resolver_type"] = getattr(resolver_types, names[resolver])
    loaded = []
    for model in request["models"]:
        before = _resident_kb()
        start = time.perf_counter()
        interpreter = interpreter_class(model_path=model["path"], **options)
        interpreter.allocate_tensors()
        load_s = time.perf_counter() - start
        detail = interpreter.get_input_details()[0]
        if model.get("input"):
            tensor = np.load(model["input"]).astype(detail["dtype"]).reshape(detail["shape"])
        else:
            tensor = np.zeros(detail["shape"], dtype=detail["dtype"])
        interpreter.set_tensor(detail["index"], tensor)
        start = time.perf_counter()
        interpreter.invoke()
        first_s = time.perf_counter() - start
        outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
        if model.get("output"):
            np.save(model["output"], outputs[0])
        after = _resident_kb()
        loaded.append(
            {
                "interpreter": interpreter,
                "load_s": load_s,
                "first_invoke_s": first_s,
                "resident_growth_kb": after - before if before is not None and after is not None else None,
                "times_s": [],
            }
        )
    markers = bool(request.get("markers"))
    for _ in range(int(request.get("warmup", 0))):
        for entry in loaded:
            entry["interpreter"].invoke()
    for _ in range(int(request.get("runs", 1))):
        for entry in loaded:
            invoke = entry["interpreter"].invoke
            if markers:
                _marker(BEGIN_MAGIC)
            start = time.perf_counter()
            invoke()
            elapsed = time.perf_counter() - start
            if markers:
                _marker(END_MAGIC)
            entry["times_s"].append(elapsed)
    return {
        "ok": True,
        "machine": _machine(),
        "processor": _processor(),
        "runtime": package,
        "runtime_version": _version(package),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "peak_resident_kb": _peak_kb(),
        "models": [{k: v for k, v in entry.items() if k != "interpreter"} for entry in loaded],
    }


def _machine():
    import platform

    return platform.machine()


def _processor():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(package):
    try:
        from importlib import metadata

        return metadata.version(package.replace("_", "-"))
    except Exception:
        return "unknown"


def main():
    with open(sys.argv[1]) as handle:
        request = json.load(handle)
    try:
        result = run(request)
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
