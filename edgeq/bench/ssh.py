"""Benchmarks on a Linux board over SSH: ``edgeq bench model.tflite --on ssh://user@host[:port]``.

edgeq sends ``device_runner.py`` (one self-contained file: numpy plus ``ai_edge_litert`` or
``tflite_runtime``), the request and the models as one tar stream over a single ``ssh``
connection; on the board a shell makes a temporary folder, unpacks, runs the runner and removes
the folder on exit, whatever happens. OpenSSH's own client does the connecting, so the user's
``~/.ssh/config``, keys and agent apply; host keys are verified (``StrictHostKeyChecking=yes``:
an unknown or changed key is refused, never accepted silently), and there is no password
prompt (``BatchMode=yes``).
"""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeq.bench.host import RUNNER, runner_results
from edgeq.bench.options import BenchOptions
from edgeq.bench.results import BenchResult
from edgeq.bench.runs import BenchModel, DeviceRunner, Progress
from edgeq.errors import DeviceError, InputError, ToolchainError

CONNECT_TIMEOUT_S = 10
INSTALL_HINT = "python3 -m pip install ai-edge-litert numpy"
_TARGET = re.compile(
    r"ssh://(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\])(?::(?P<port>[0-9]{1,5}))?/?"
)
_HOST_KEY_TROUBLE = (
    "Host key verification failed",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "No matching host key",
)


@dataclass(frozen=True)
class SSHTarget:
    """Where to connect: ``ssh://[user@]host[:port]``."""

    host: str
    user: str | None = None
    port: int | None = None

    @property
    def name(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{self.host}{port}"

    @property
    def destination(self) -> str:
        host = self.host.strip("[]")
        return f"{self.user}@{host}" if self.user else host


def parse_ssh_target(text: str) -> SSHTarget:
    """``ssh://pi@raspberrypi.local:2222`` → SSHTarget; InputError for anything else."""
    match = _TARGET.fullmatch(text.strip())
    if not match:
        raise InputError(f"--on {text!r}: an SSH target looks like ssh://user@host or ssh://user@host:port")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        raise InputError(f"--on {text!r}: port {port} is outside 1..65535")
    return SSHTarget(host=match["host"], user=match["user"], port=port)


def ssh_command(target: SSHTarget, config: str | Path | None = None) -> list[str]:
    """The ``ssh`` command line edgeq uses for ``target`` (without the remote command)."""
    ssh = shutil.which("ssh")
    if ssh is None:
        raise ToolchainError("ssh is not installed: apt-get install openssh-client")
    command = [ssh, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
               "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}", "-o", "LogLevel=ERROR"]  # fmt: skip
    if config is not None:
        if not Path(config).is_file():
            raise InputError(f"--ssh-config {config}: no such file")
        command += ["-F", str(config)]
    if target.port:
        command += ["-p", str(target.port)]
    return [*command, "--", target.destination]


def remote_script(python: str) -> str:
    """The shell command run on the board: temporary folder, unpack stdin, run, always clean up."""
    quoted = shlex.quote(python)
    return (
        'd=$(mktemp -d "${TMPDIR:-/tmp}/edgeq-XXXXXX") || exit 97; '
        "trap 'rm -rf \"$d\"' EXIT HUP INT TERM; "
        'tar -xf - -C "$d" || exit 98; '
        f"command -v {quoted} >/dev/null 2>&1 || {{ echo EDGEQ_NO_PYTHON; exit 99; }}; "
        f'cd "$d" && {quoted} device_runner.py request.json'
    )


def bench_ssh(
    models: list[BenchModel],
    target: SSHTarget,
    runs: int = 100,
    warmup: int = 10,
    threads: int = 1,
    resolver: str = "default",
    python: str = "python3",
    config: str | Path | None = None,
    timeout: float = 600,
) -> list[BenchResult]:
    """Time every model with LiteRT on the board, interleaved, as on the host.

    Returns one BenchResult per model. Raises DeviceError when the board cannot be reached, its
    host key is not trusted, or it lacks Python or the runtime (the message names the command to
    run there), and ToolchainError when this machine has no ``ssh``.
    """
    command = ssh_command(target, config)
    request = {"runs": runs, "warmup": warmup, "threads": threads, "resolver": resolver}
    entries = []
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        _add(tar, "device_runner.py", RUNNER.read_bytes())
        for index, model in enumerate(models):
            buffer = io.BytesIO()
            np.save(buffer, model.sample)
            _add(tar, f"model{index}.tflite", model.tflite)
            _add(tar, f"input{index}.npy", buffer.getvalue())
            entries.append({"path": f"model{index}.tflite", "input": f"input{index}.npy"})
        _add(tar, "request.json", json.dumps({**request, "models": entries}).encode())
    try:
        done = subprocess.run(
            [*command, remote_script(python)], input=archive.getvalue(), capture_output=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{target.name} did not finish the benchmark within {timeout:.0f} s") from None
    stdout = done.stdout.decode(errors="replace")
    stderr = done.stderr.decode(errors="replace").strip()
    answer = _answer(stdout)
    if answer is None:
        raise _failure(target, done.returncode, stdout, stderr, python)
    if not answer.get("ok"):
        if answer.get("error") == "missing_runtime" or "No module named 'numpy'" in str(answer.get("error")):
            raise DeviceError(
                f"{target.name} has Python {answer.get('python', '')} but not the LiteRT runtime or numpy: "
                f"run `{INSTALL_HINT}` there (older boards: pip install tflite-runtime numpy)"
            )
        raise DeviceError(f"the LiteRT runner failed on {target.name}: {answer.get('error')}")
    platform_info = {key: answer.get(key) for key in ("machine", "processor", "python")}
    platform_info["host"] = target.host
    return runner_results(models, answer, target.name, platform_info, request)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _answer(stdout: str) -> dict[str, Any] | None:
    line = next((line for line in reversed(stdout.splitlines()) if line.startswith("{")), None)
    if line is None:
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _failure(target: SSHTarget, code: int, stdout: str, stderr: str, python: str) -> DeviceError:
    said = stderr.splitlines()[-1] if stderr else f"exit status {code}"
    if any(marker in stderr for marker in _HOST_KEY_TROUBLE):
        port = f"-p {target.port} " if target.port else ""
        return DeviceError(
            f"the host key of {target.name} is unknown or has changed, and edgeq does not trust host keys "
            f"silently: check it, then add it to known_hosts (e.g. connect once with `ssh {port}"
            f"{target.destination}`)"
        )
    if code == 255:
        return DeviceError(f"cannot connect to {target.name}: {said}")
    if "EDGEQ_NO_PYTHON" in stdout:
        return DeviceError(
            f"{target.name} has no {python!r}: install Python 3 there (e.g. `sudo apt install python3 "
            f"python3-pip`), then `{INSTALL_HINT}`; or name another interpreter with --remote-python"
        )
    if code in (97, 98):
        return DeviceError(f"{target.name} could not unpack the runner in a temporary folder: {said}")
    return DeviceError(f"the LiteRT runner failed on {target.name} (exit status {code}): {said}")


def _run_on_board(
    models: Sequence[BenchModel], target: str, options: BenchOptions, say: Progress
) -> list[BenchResult]:
    """The ssh runner's one target. A board that cannot be reached, or lacks the runtime, raises
    DeviceError (every model on it gets that failed row; the other targets' rows are kept)."""
    board, runs = parse_ssh_target(target), options.runs
    say(f"timing {len(models)} model(s) in LiteRT on {board.name} ({runs} runs each, interleaved)")
    return bench_ssh(
        list(models), board, runs, options.warmup, options.threads, options.litert_resolver,
        options.remote_python, options.ssh_config, options.device_timeout,
    )  # fmt: skip


SSH_RUNNER = DeviceRunner(("ssh://user@host[:port]",), parse_ssh_target, _run_on_board, prefixes=("ssh://",))
