"""Wall time of ``ssot-guard check`` against ``--jobs`` on a generated tree (issue 8).

Generates a first-party package of a few hundred modules (sub-packages, imports between
modules, a little stdlib, one order-dependent cycle), then checks it with 1, 2, ... jobs
and prints the wall time, the modules per second, the speed-up and the CPU time per module
(user + sys of every child, from ``getrusage``: unlike wall time it does not depend on what
else the machine runs), for fresh interpreters and for ``--fork``. It also times the fixed
cost of one child (a bare interpreter, and one that installs the guard) so the per-module
overhead of ``check`` can be stated.

    python benchmarks/check_jobs.py                      # 300 modules, jobs 1 2 4
    python benchmarks/check_jobs.py --modules 500 --jobs 1 2 3 4 --repeat 2 --no-fork
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from ssot_guard._check import check, discover  # noqa: E402

STDLIB = ("json", "dataclasses", "functools", "pathlib", "re", "typing", "collections")


def generate(root: Path, modules: int, seed: int = 7) -> None:
    """``bench/pkgNN/modNNN.py``: each module imports up to three earlier ones."""
    rng = random.Random(seed)
    package = root / "bench"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    names: list[str] = []
    per_package = 20
    for index in range(modules):
        sub = f"pkg{index // per_package:02d}"
        folder = package / sub
        if not folder.exists():
            folder.mkdir()
            (folder / "__init__.py").write_text("", encoding="utf-8")
        name = f"bench.{sub}.mod{index:03d}"
        lines = [f"import {rng.choice(STDLIB)}"]
        for target in rng.sample(names, k=min(3, len(names))):
            lines.append(f"import {target}")
        lines.append(f"class C{index}:\n    def run(self) -> int:\n        return {index}\n")
        lines.append(f"VALUE = {index}\n")
        (folder / f"mod{index:03d}.py").write_text("\n".join(lines), encoding="utf-8")
        names.append(name)
    # One order-dependent cycle, so the run also exercises failure attribution.
    (package / "cycle_base.py").write_text("import bench.cycle_env\nX = 1\n", encoding="utf-8")
    (package / "cycle_env.py").write_text("from bench.cycle_base import X\n", encoding="utf-8")


def child_cost(code: str, repeat: int = 10) -> float:
    """Median wall seconds of ``python -c code`` (the fixed cost of one child)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=300)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--fork", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    bare = child_cost("pass")
    guarded = child_cost("import ssot_guard; ssot_guard.install()")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"one child: bare interpreter {bare * 1000:.0f} ms, with the guard installed "
          f"{guarded * 1000:.0f} ms")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="ssot-guard-bench-") as temp:
        root = Path(temp)
        generate(root, args.modules)
        targets = discover(root, ["bench"])
        # Warm the bytecode caches so every measured run imports from __pycache__.
        check(root, targets, jobs=os.cpu_count() or 1, timeout=args.timeout,
              guard_kwargs={"mode": "warn"}, mode="warn")  # fmt: skip
        print(f"{len(targets)} modules (each imported first in its own process)")
        for fork in (False, True) if args.fork else (False,):
            label = "fork server (--fork)" if fork else "fresh interpreters"
            print(f"\n{label}")
            print(
                f"{'jobs':>4}  {'wall s':>7}  {'modules/s':>9}  {'wall ms/mod':>11}  "
                f"{'speed-up':>8}  {'CPU ms/mod':>10}"
            )
            base: float | None = None
            for jobs in args.jobs:
                walls, cpus = [], []
                failed = 0
                for _ in range(args.repeat):
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    run = check(root, targets, jobs=jobs, timeout=args.timeout,
                                guard_kwargs={"mode": "warn"}, mode="warn",
                                fork=fork)  # fmt: skip
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                    walls.append(run.seconds)
                    cpus.append(cpu)
                    failed = sum(1 for r in run.results if r.failed)
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                base = base or wall
                print(
                    f"{jobs:>4}  {wall:>7.2f}  {len(targets) / wall:>9.1f}  "
                    f"{wall / len(targets) * 1000:>11.1f}  {base / wall:>7.2f}x  "
                    f"{cpu / len(targets) * 1000:>10.1f}   ({failed} failed, as generated)"
                )
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\nload average at the end: {load:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
