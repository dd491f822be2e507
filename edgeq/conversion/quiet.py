"""Keep TensorFlow's start-up and converter chatter (C++ logs, SavedModel dumps) off the terminal.

TensorFlow writes from C++ straight to file descriptors 1 and 2, so Python-level redirection is not
enough: the descriptors themselves are pointed at a temporary file while the noisy call runs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from types import ModuleType

_state = {"verbose": False}


def set_verbose(verbose: bool) -> None:
    """With ``verbose`` on, nothing is captured: TensorFlow prints as it normally does."""
    _state["verbose"] = verbose


class Captured:
    """Text captured from a quiet block, available after the block ends."""

    def __init__(self) -> None:
        self.text = ""


@contextlib.contextmanager
def quiet() -> Iterator[Captured]:
    """Silence file descriptors 1 and 2, Python warnings and TF's loggers within the block."""
    captured = Captured()
    if _state["verbose"]:
        yield captured
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    python_text = io.StringIO()  # print() inside TF/Keras, when sys.stdout is not descriptor 1
    with (
        tempfile.TemporaryFile(mode="w+b") as sink,
        warnings.catch_warnings(),
        contextlib.redirect_stdout(python_text),
        contextlib.redirect_stderr(python_text),
    ):
        warnings.simplefilter("ignore")
        previous_levels = _mute_loggers()
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            for name, level in previous_levels.items():
                logging.getLogger(name).setLevel(level)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace") + python_text.getvalue()


def _mute_loggers() -> dict[str, int]:
    levels = {}
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.ERROR)
    return levels


def import_tensorflow() -> ModuleType:
    """Import TensorFlow (and Keras) quietly, once."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if not _state["verbose"]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    with quiet():
        import keras  # noqa: F401  (Keras 3 first, so tf.keras resolves to it)
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        try:
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
        except ImportError:  # pragma: no cover - absl comes with TensorFlow
            pass
    return tf
