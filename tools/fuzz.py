"""Fuzz the edgeq command line with seeded hostile inputs and report what breaks.

    .venv/bin/python tools/fuzz.py --cases 1000 --seed 0 [--work DIR]

Builds small fixture models and data once (about 15 s), then runs every case in this process
through ``edgeq.cli.run`` in its own sandbox folder (see tests/fuzzing.py for the checks), and
prints a table per command, the failing cases, and the failures grouped by cause. Exit code 1
when any case failed. ``--only N`` replays case N (of the same seed) alone; ``--keep`` keeps the
sandboxes under ``--work`` for a look.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzing  # the harness lives with the tests, which import it too


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case generator (default 0)")
    parser.add_argument("--work", type=Path, default=None, help="folder for fixtures and sandboxes")
    parser.add_argument("--slow", type=float, default=0.03, help="share of slow cases (real conversions)")
    parser.add_argument(
        "--medium", type=float, default=0.10, help="share of medium cases (TFLite Micro runs)"
    )
    parser.add_argument("--only", type=int, nargs="*", default=None, help="run only these case numbers")
    parser.add_argument("--keep", action="store_true", help="keep each case's sandbox")
    parser.add_argument("--quiet", action="store_true", help="no progress line per case")
    parser.add_argument("--log", type=Path, default=None, help="write one JSON line per case to this file")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="edgeq-fuzz-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with fuzzing.fuzz_environment(work):
        fixtures = fuzzing.build_fixtures(work / "fixtures")
        fuzzing.warm_up(fixtures, work)
        print(f"fixtures ready in {time.perf_counter() - started:.1f} s under {work}", file=sys.stderr)
        shares = (args.slow, args.medium)
        numbers = args.only if args.only is not None else range(args.cases)
        cases = [fuzzing.generate_case(number, args.seed, fixtures, shares) for number in numbers]
        tiers = {tier: sum(case.tier == tier for case in cases) for tier in fuzzing.TIERS}
        print(f"{len(cases)} cases, seed {args.seed}: {tiers}", file=sys.stderr)

        def progress(outcome: fuzzing.Outcome, index: int) -> None:
            if args.quiet:
                return
            mark = "FAIL" if outcome.failed else "ok  "
            case = outcome.case
            line = f"[{index + 1}/{len(cases)}] {mark} #{case.number} exit {outcome.code}"
            line += f" {outcome.seconds:5.1f}s"
            print(f"{line} {case.label[:90]}", file=sys.stderr, flush=True)

        outcomes = fuzzing.run_cases(cases, fixtures, work, keep=args.keep, progress=progress)
    failed = [o for o in outcomes if o.failed]
    if args.log is not None:
        with args.log.open("w", encoding="utf-8") as log:
            for outcome in outcomes:
                log.write(json.dumps(fuzzing.outcome_record(outcome)) + "\n")
    print(f"\nedgeq fuzz: {len(outcomes)} cases, seed {args.seed}, {len(failed)} failing, "
          f"{time.perf_counter() - started:.0f} s\n")  # fmt: skip
    print(fuzzing.summary_table(outcomes))
    if failed:
        print(f"\nFAILING CASES ({len(failed)})\n")
        print(fuzzing.failure_list(outcomes))
        print("\nCAUSES (grouped by command, problem and message)\n")
        print(fuzzing.causes_text(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
