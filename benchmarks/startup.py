"""Start-up cost of ``import ssot_guard; ssot_guard.install()``: absolute CPU milliseconds.

``import_overhead.py`` measures a cold import as a ratio; its children import asyncio and
friends anyway, so what the guard's own dependencies import is mostly shared there. This
measures the other end: a program that imports nothing else. Alternating fresh interpreters
run the same empty program bare, with the kill switch (``mode="off"``) and with an installed
guard (``mode="warn"``); ``--preload`` imports modules first in every child (what the
program itself would import), so only what the guard adds on top is counted.

    python benchmarks/startup.py                      # 21 rounds
    python benchmarks/startup.py --preload asyncio,importlib.metadata
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from import_overhead import cpu_seconds, middle_half

KINDS = ("bare", "off", "warn")

CHILD = """
import sys
kind, preload, report = sys.argv[1], sys.argv[2], sys.argv[3:]
for name in filter(None, preload.split(",")):
    __import__(name)
before = set(sys.modules)
if kind != "bare":
    import ssot_guard
    ssot_guard.install(mode=kind)
if report:
    with open(report[0], "w") as out:
        out.write("\\n".join(sorted(set(sys.modules) - before)))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="rounds of one child per kind")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument("--preload", default="", help="comma-separated modules every child imports")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="ssot-startup-"))  # no pyproject.toml above it
    try:
        child = root / "child.py"
        child.write_text(CHILD)
        added: dict[str, int] = {}
        for kind in KINDS:  # warm-up (writes __pycache__) and the modules each kind adds
            listing = root / f"{kind}.txt"
            cpu_seconds(args.python, child, kind, (args.preload, str(listing)))
            added[kind] = len(listing.read_text().split())
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for round_ in range(args.runs):
            for kind in KINDS if round_ % 2 == 0 else KINDS[::-1]:
                times[kind].append(cpu_seconds(args.python, child, kind, (args.preload,)))
        result: dict[str, object] = {"python": sys.version.split()[0], "runs": args.runs,
                                     "preload": args.preload}  # fmt: skip
        for kind in KINDS:
            result[f"{kind}_ms_median"] = round(statistics.median(times[kind]) * 1000, 1)
            result[f"{kind}_modules_added"] = added[kind]
        for kind in KINDS[1:]:
            extra = [(t - b) * 1000 for t, b in zip(times[kind], times["bare"], strict=True)]
            result[f"{kind}_extra_ms_median"] = round(statistics.median(extra), 1)
            result[f"{kind}_extra_ms_middle_half"] = middle_half(extra)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        preload = f", every child imports {args.preload}" if args.preload else ""
        print(f"python {result['python']}: CPU time, median of {args.runs} rounds{preload}")
        print(f"  bare interpreter            {result['bare_ms_median']:6.1f} ms")
        for kind, label in (("off", 'install(mode="off")'), ("warn", 'install(mode="warn")')):
            low, high = result[f"{kind}_extra_ms_middle_half"]  # type: ignore[misc]
            print(
                f"  {label:<27} {result[f'{kind}_ms_median']:6.1f} ms: "
                f"+{result[f'{kind}_extra_ms_median']:.1f} ms (middle half {low:.1f}-{high:.1f}),"
                f" {added[kind]} modules imported"
            )
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
