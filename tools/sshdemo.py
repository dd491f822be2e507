"""Start a throwaway OpenSSH server on 127.0.0.1, so README's ``--on ssh://`` example runs here.

    python tools/sshdemo.py start [FOLDER] [--port 2222]   # keys, sshd_config and a client config in FOLDER
    python tools/sshdemo.py stop [FOLDER]

The server accepts only the user key it made, on 127.0.0.1 only, and runs until ``stop``. The client
config in FOLDER/config trusts exactly that server's host key: pass it as ``--ssh-config``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _tool(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        sys.exit(f"error: {name} is missing: install it with apt-get install {package}")
    return found


def write_files(folder: Path, port: int, keygen: str) -> Path:
    """Keys, ``sshd_config`` for 127.0.0.1:``port`` and the server's ``known_hosts`` line in ``folder``.
    Returns the sshd_config path. The tests' sshd fixture uses this too."""
    folder.mkdir(parents=True, exist_ok=True)
    for key in ("host_key", "user_key"):
        if not (folder / key).exists():
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True)
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    settings = [
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "LogLevel ERROR",
    ]  # fmt: skip
    (folder / "sshd_config").write_text("\n".join(settings) + "\n")
    host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    return folder / "sshd_config"


def client_config(folder: Path, known_hosts: Path, name: str = "config") -> Path:
    """An ssh client config for 127.0.0.1 with the user key and only ``known_hosts`` trusted."""
    config = folder / name
    config.write_text(
        f"Host 127.0.0.1\n  IdentityFile {folder / 'user_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
    )
    return config


def wait_for_port(port: int, alive: Callable[[], bool], seconds: float = 15) -> bool:
    """True once 127.0.0.1:``port`` accepts connections; False if ``alive()`` turns false or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start(folder: Path, port: int) -> None:
    sshd = _tool("sshd", "openssh-server")
    keygen = _tool("ssh-keygen", "openssh-client")
    if (folder / "sshd.pid").exists():
        sys.exit(f"error: {folder} already has a running server: python tools/sshdemo.py stop {folder}")
    folder = folder.resolve()
    sshd_config = write_files(folder, port, keygen)
    done = subprocess.run([sshd, "-f", str(sshd_config)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: sshd did not start: {done.stderr.strip()[-300:]}")
    if not wait_for_port(port, lambda: True):
        sys.exit(f"error: sshd did not listen on 127.0.0.1:{port} within 15 s")
    config = client_config(folder, folder / "known_hosts")
    print(f"sshd on 127.0.0.1:{port}: --on ssh://{getpass.getuser()}@127.0.0.1:{port} --ssh-config {config}")
    print(f"stop it with: python tools/sshdemo.py stop {folder}")


def stop(folder: Path) -> None:
    pid_file = folder / "sshd.pid"
    if not pid_file.exists():
        sys.exit(f"error: no server is running from {folder}")
    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    print(f"stopped the sshd of {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", nargs="?", type=Path, default=Path("sshdemo"))
    parser.add_argument("--port", type=int, default=2222)
    args = parser.parse_args()
    if args.action == "start":
        start(args.folder, args.port)
    else:
        stop(args.folder)


if __name__ == "__main__":
    main()
