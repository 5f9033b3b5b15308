"""Steady-state cost of the import rules (SPEC §7), measured in one run.

Two identical first-party packages are written to a temporary folder: ``plainapp`` is
imported before the guard is installed, ``guardedapp`` after (``packages=["guardedapp"]``,
so the guard treats it as first-party and swaps its modules' class while their bodies run).
Interleaved rounds, best round kept, time per operation and the ratio guarded / plain:

* ``attr``: ``config.VALUE`` reads on a first-party module after start-up (budget 1.00);
* ``from``: ``from app.config import VALUE`` hits inside a function (budget 1.00);
* ``raise``: a Python-level ``KeyError`` raised and caught (the only path the 3.12+
  ``sys.monitoring`` RAISE callback of SSOT009 costs anything on), guard installed vs
  uninstalled;
* with ``--deep``: the same after reinstalling with ``deep = true`` (3.11 only leaves a
  ``__getattr__`` class on first-party modules; 3.12+ needs nothing extra).

Run: ``python benchmarks/attribute_access.py [--reads N] [--rounds R] [--deep]``. Exits
non-zero when a 1.00 budget is exceeded by more than the noise margin (``--tolerance``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIG = """
VALUE = 1

def helper():
    return VALUE
"""

READER = """
from {package} import config


def attr_loop(n):
    c = config
    for _ in range(n):
        c.VALUE; c.VALUE; c.VALUE; c.VALUE; c.VALUE
        c.VALUE; c.VALUE; c.VALUE; c.VALUE; c.VALUE


def from_loop(n):
    for _ in range(n):
        from {package}.config import VALUE
        from {package}.config import helper


def raise_loop(n):
    d = {{}}
    for _ in range(n):
        try:
            d["missing"]
        except KeyError:
            pass
"""


def _write(root: Path, package: str) -> None:
    folder = root / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "config.py").write_text(CONFIG)
    (folder / "reader.py").write_text(READER.format(package=package))


def _best(fn: Callable[[int], None], n: int) -> float:
    started = time.perf_counter()
    fn(n)
    return time.perf_counter() - started


def _measure(
    pairs: dict[str, tuple[Callable[[int], None], Callable[[int], None], int]],
    rounds: int,
    toggle: Callable[[bool], None] | None = None,
) -> dict[str, tuple[float, float]]:
    """Best seconds per operation (plain, guarded) for each workload, interleaved rounds."""
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in pairs}
    for _ in range(rounds):
        for name, (plain, guarded, n) in pairs.items():
            for index, fn in ((0, plain), (1, guarded)):
                if toggle is not None:
                    toggle(index == 1)
                best[name][index] = min(best[name][index], _best(fn, n) / n)
    return {name: (values[0], values[1]) for name, values in best.items()}


def _report(title: str, results: dict[str, tuple[float, float]], ops: dict[str, int]) -> float:
    print(title)
    worst = 0.0
    for name, (plain, guarded) in results.items():
        per = ops.get(name, 1)
        ratio = guarded / plain if plain else float("nan")
        worst = max(worst, ratio) if name != "raise" else worst
        print(
            f"  {name:<6} plain {plain / per * 1e9:8.2f} ns/op   guarded "
            f"{guarded / per * 1e9:8.2f} ns/op   ratio {ratio:5.2f}"
        )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reads", type=int, default=200_000, help="loop iterations")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--deep", action="store_true", help="also measure deep = true")
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # a benchmark script, not library code

    root = Path(tempfile.mkdtemp(prefix="ssot-guard-bench-"))
    try:
        for package in ("plainapp", "guardedapp", "deepapp"):
            _write(root, package)
        sys.path.insert(0, str(root))
        os.environ.pop("SSOT_GUARD_MODE", None)
        plain: Any = importlib.import_module("plainapp.reader")

        import ssot_guard

        ssot_guard.install(mode="warn", packages=["guardedapp"], config=None)
        guarded: Any = importlib.import_module("guardedapp.reader")
        assert type(guarded.config) is type(plain.config), "class not restored after the body"

        n = args.reads
        ops = {"attr": 10, "from": 2, "raise": 1}
        results = _measure(
            {
                "attr": (plain.attr_loop, guarded.attr_loop, n),
                "from": (plain.from_loop, guarded.from_loop, n // 4),
            },
            args.rounds,
        )

        def toggle(on: bool) -> None:
            if on:
                ssot_guard.install(mode="warn", packages=["guardedapp"], config=None)
            else:
                ssot_guard.uninstall()

        results.update(
            _measure({"raise": (plain.raise_loop, plain.raise_loop, n // 4)}, args.rounds, toggle)
        )
        ssot_guard.install(mode="warn", packages=["guardedapp"], config=None)
        version = ".".join(map(str, sys.version_info[:3]))
        worst = _report(f"Python {version}, default settings:", results, ops)

        if args.deep:
            ssot_guard.uninstall()
            ssot_guard.install(mode="warn", packages=["deepapp"], deep=True, config=None)
            deep: Any = importlib.import_module("deepapp.reader")
            hooked = "__getattr__" in vars(deep.config)
            print(f"  (deep: PEP 562 hook left on first-party modules: {hooked})")
            deep_results = _measure(
                {
                    "attr": (plain.attr_loop, deep.attr_loop, n),
                    "from": (plain.from_loop, deep.from_loop, n // 4),
                },
                args.rounds,
            )
            _report(f"Python {version}, deep = true:", deep_results, ops)
        ssot_guard.uninstall()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if worst > 1.0 + args.tolerance:
        print(f"FAIL: steady-state ratio {worst:.2f} exceeds 1.00 (+{args.tolerance:.2f})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
