"""Cost of the canonical-class rules on instantiation (SPEC §7), measured in one run.

Three workloads, each timed without the guard and with it (mode ``warn``, interleaved
rounds, best round kept):

* the canonical class, not singleton: must cost nothing (it is not wrapped at all);
* a non-canonical class instantiated again and again at one known call site: the extra
  cost per call after the first report (budget: under 2 µs);
* a singleton canonical class whose ``__new__`` hands back the cached instance: the extra
  cost per call of the singleton check;
* class statements, at module level, inside a function and with a base class: what the
  ``__build_class__`` hook adds to every class statement while canonical names are declared
  (one with a base also runs from a frame like its own, see ``rules/_class_statement.py``).

Run: ``python benchmarks/instantiation.py [--calls N] [--rounds R]``. Prints µs per call,
the ratio and the extra µs, and exits non-zero when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import types
import warnings
from collections.abc import Callable
from types import CodeType
from typing import Any

SOURCE = """
class DatabaseManager:
    def __init__(self, url, pool_size=5):
        self.url = url
        self.pool_size = pool_size

class Settings:
    _instance = None
    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance
"""

LEGACY = """
class DatabaseManager:
    def __init__(self, url, pool_size=5):
        self.url = url
        self.pool_size = pool_size
"""


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    sys.modules[name] = module
    return module


def _loop(cls: Callable[..., object], calls: int) -> float:
    """Seconds per call of ``cls("url")`` from a single call site."""
    started = time.perf_counter()
    for _ in range(calls):
        cls("postgresql://user:secret@db/app")
    return (time.perf_counter() - started) / calls


#: 100 small module-level class statements, without and with a base class.
CLASSES = compile(
    "\n".join(f"class K{i}:\n    x = {i}\n" for i in range(100)), "<bench_app.classes>", "exec"
)
BASED = compile(
    "class Base:\n    pass\n" + "\n".join(f"class K{i}(Base):\n    x = {i}\n" for i in range(100)),
    "<bench_app.based>",
    "exec",
)


def _statements(code: CodeType, calls: int) -> float:
    """Seconds per module-level class statement of *code* (100 of them)."""
    rounds = max(1, calls // 100)
    started = time.perf_counter()
    for _ in range(rounds):
        exec(code, {"__name__": "bench_app.classes"})
    return (time.perf_counter() - started) / (rounds * 100)


def _module_classes(_cls: object, calls: int) -> float:
    return _statements(CLASSES, calls)


def _based_classes(_cls: object, calls: int) -> float:
    return _statements(BASED, calls)


def _local_class() -> type:
    class Local:
        x = 1

    return Local


def _function_classes(_cls: object, calls: int) -> float:
    """Seconds per class statement inside a function (call included)."""
    started = time.perf_counter()
    for _ in range(calls):
        _local_class()
    return (time.perf_counter() - started) / calls


def _loop0(cls: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        cls()
    return (time.perf_counter() - started) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    import ssot_guard

    # The benchmark is the application here: keep the guard's warning log lines quiet.
    logging.getLogger("ssot_guard").setLevel(logging.CRITICAL)

    app = _module("bench_app.db", SOURCE)
    legacy = _module("bench_legacy.db", LEGACY)
    canonical = {
        "bench_app.db.DatabaseManager": {},
        "bench_app.db.Settings": {"singleton": True},
    }
    packages = ["bench_app", "bench_legacy"]
    workloads: dict[str, tuple[object, Callable[[Any, int], float]]] = {
        "canonical class": (app.DatabaseManager, _loop),
        "non-canonical, known site": (legacy.DatabaseManager, _loop),
        "singleton, cached instance": (app.Settings, _loop0),
        "class statement, module level": (None, _module_classes),
        "class statement, in a function": (None, _function_classes),
        "class statement with a base": (None, _based_classes),
    }
    best: dict[tuple[str, bool], float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.rounds):
            for guarded in (False, True):
                guard = (
                    ssot_guard.install(mode="warn", canonical=canonical, packages=packages)
                    if guarded
                    else None
                )
                for name, (cls, loop) in workloads.items():
                    loop(cls, 1000)  # warm up; the first occurrence is reported here
                    seconds = loop(cls, args.calls)
                    key = (name, guarded)
                    best[key] = min(best.get(key, seconds), seconds)
                if guard is not None:
                    counts = {e.rule: e.count for e in guard.events}
                    ssot_guard.uninstall()
                    assert counts.get("SSOT004", 0) >= args.calls, counts

    print(f"python {sys.version.split()[0]}, {args.calls} calls x {args.rounds} rounds (best)")
    print(f"{'workload':30} {'plain µs':>9} {'guarded µs':>11} {'ratio':>6} {'extra µs':>9}")
    failed = False
    for name in workloads:
        plain, guarded = best[(name, False)] * 1e6, best[(name, True)] * 1e6
        extra = guarded - plain
        print(f"{name:30} {plain:9.3f} {guarded:11.3f} {guarded / plain:6.2f} {extra:9.3f}")
        if name == "non-canonical, known site" and extra >= 2.0:
            failed = True
        if name == "canonical class" and guarded / plain > 1.05:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
