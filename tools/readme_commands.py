"""Run the README's commands in order, as a new user pasting them would, and print what each did.

    python tools/readme_commands.py [--readme README.md] [--cwd DIR] [--skip TEXT ...] [--list] [--log DIR]

Runs every ``$ `` line of the README's code blocks (joining ``\\`` continuations) and every
```python block, in file order, with bash in DIR (default: the README's folder). The PATH gets
DIR/.venv/bin first, as after ``. .venv/bin/activate``. Prints one row per command: README line,
exit code, seconds, command; exits 1 if any command failed. With ``--log DIR`` each command's full
stdout and stderr go to DIR/LINE.txt, to paste real output into the README.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def commands(readme: str) -> list[tuple[int, str, str]]:
    """(line number, "sh" or "python", text) for each command, in order."""
    found: list[tuple[int, str, str]] = []
    fence, python_start, python_lines = None, 0, []
    lines = readme.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence = stripped[3:].strip() or "text"
                python_start, python_lines = index + 1, []
            else:
                if fence == "python":
                    found.append((python_start + 1, "python", "\n".join(python_lines)))
                fence = None
        elif fence == "python":
            python_lines.append(line)
        elif fence is not None and stripped.startswith("$ "):
            start, text = index + 1, stripped[2:]
            while text.endswith("\\") and index + 1 < len(lines):
                index += 1
                text = text[:-1] + " " + lines[index].strip()
            found.append((start, "sh", re.sub(r"\s+#.*$", "", text)))
        index += 1
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=Path(__file__).resolve().parent.parent / "README.md")
    parser.add_argument("--cwd", type=Path, default=None)
    parser.add_argument("--skip", action="append", default=[], help="Skip commands containing TEXT.")
    parser.add_argument("--list", action="store_true", help="Only list the commands.")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--log", type=Path, default=None, help="Write each command's output to DIR/LINE.txt.")
    args = parser.parse_args()
    cwd = (args.cwd or args.readme.parent).resolve()
    environment = {**os.environ, "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    failed = 0
    for line, kind, text in commands(args.readme.read_text(encoding="utf-8")):
        shown = text.replace("\n", "; ")[:110]
        if args.list or any(skip in text for skip in args.skip):
            print(f"{line:>5}  {'listed' if args.list else 'skipped':>7}           {shown}", flush=True)
            continue
        argv = ["bash", "-c", text] if kind == "sh" else [str(cwd / ".venv" / "bin" / "python"), "-c", text]
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=cwd, env=environment, capture_output=True, text=True,
                                  timeout=args.timeout)  # fmt: skip
            code = done.returncode
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] if code else []
            if args.log is not None:
                args.log.mkdir(parents=True, exist_ok=True)
                said = f"$ {text}\n{done.stdout}{done.stderr}"
                (args.log / f"{line}.txt").write_text(said, encoding="utf-8")
        except subprocess.TimeoutExpired:
            code, tail = -1, [f"timed out after {args.timeout:.0f} s"]
        seconds = time.monotonic() - started
        failed += code != 0
        print(f"{line:>5}  exit {code:>3}  {seconds:7.1f} s  {shown}", flush=True)
        for said in tail:
            print(f"{'':>7}-> {said[:200]}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
