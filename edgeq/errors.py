"""Errors a user can act on. The CLI prints ``error: <message>`` and exits with ``exit_code``."""

from __future__ import annotations


class EdgeqError(Exception):
    """Base of every error edgeq raises on purpose; the message is one line naming the fix."""

    exit_code = 1


class InputError(EdgeqError):
    """A bad file, data set or option given by the user."""

    exit_code = 2


class UnsupportedError(EdgeqError):
    """An op or feature the chosen target or mode cannot handle."""

    exit_code = 2


class ToolchainError(EdgeqError):
    """A compiler, emulator or package edgeq needs is missing; the message names what to install."""

    exit_code = 3


class DeviceError(EdgeqError):
    """A device that could not be reached or did not answer in time."""

    exit_code = 4


class BenchFailure(EdgeqError):
    """One model could not be benchmarked on one target: it did not build, fit, run or answer there.

    ``edgeq bench`` records it in that model's row for ``target`` and goes on with the other runs
    (one that no single model can be blamed for, such as the host's timing process, ends the
    benchmark); ``exit_code`` is that of the cause (2 for a model that does not fit).
    """

    def __init__(self, target: str, reason: str, exit_code: int = 1) -> None:
        super().__init__(reason)
        self.target = target
        self.reason = reason
        self.exit_code = exit_code

    def __reduce__(self) -> tuple[type[BenchFailure], tuple[str, str, int]]:
        return type(self), (self.target, self.reason, self.exit_code)


class ConversionError(EdgeqError):
    """TensorFlow's converter failed for a reason edgeq cannot attribute to the user's input."""

    exit_code = 1


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, shortened, for embedding in a one-line error."""
    lines = str(exc).strip().splitlines()
    line = lines[0].strip() if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
