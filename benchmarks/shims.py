"""Cost of compat shims (SPEC §7), measured in one run.

Three modules expose the same old name ``get_db_session_factory``:

* ``plain``: defines it (what the code looked like before the refactor);
* ``pep562``: a hand-written PEP 562 ``__getattr__`` returning the replacement, without
  warning or reporting (the cheapest possible shim);
* ``guarded``: lacks it; the guard (mode ``warn``) serves it through its shim.

Each workload is timed per module in interleaved rounds (best round kept):

* ``from m import old`` inside a function, at one known call site (the SPEC §0 pattern);
* ``m.old`` at one known call site;
* ``m.present``: reading a name the module does define, the cost every other reader
  pays once a module has a ``__getattr__`` (CPython stops specialising reads on it).

Budget: a repeated shim use at the same call site costs under 2 µs more than the
hand-written shim. Run: ``python benchmarks/shims.py [--calls N] [--rounds R]``; exits
non-zero when the budget is exceeded.
"""

from __future__ import annotations

import argparse
import sys
import types
import warnings
from collections.abc import Callable

BUDGET_US = 2.0


def _replacement() -> str:
    return "manager"


def _module(name: str, body: dict[str, object]) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    module.__dict__.update(body)
    sys.modules[name] = module
    return module


def _workloads(name: str) -> dict[str, Callable[[int], float]]:
    namespace: dict[str, object] = {}
    source = f"""
import time
import {name} as m

def from_import(calls):
    started = time.perf_counter()
    for _ in range(calls):
        from {name} import get_db_session_factory
    return (time.perf_counter() - started) / calls

def attribute(calls):
    started = time.perf_counter()
    for _ in range(calls):
        m.get_db_session_factory
    return (time.perf_counter() - started) / calls

def present(calls):
    started = time.perf_counter()
    for _ in range(calls):
        m.present
    return (time.perf_counter() - started) / calls
"""
    exec(compile(source, f"<bench {name}>", "exec"), namespace)
    return {key: namespace[key] for key in ("from_import", "attribute", "present")}  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    import ssot_guard

    _module("bench_plain", {"get_db_session_factory": _replacement, "present": 1})

    def __getattr__(name: str) -> object:
        if name == "get_db_session_factory":
            return _replacement
        raise AttributeError(f"module 'bench_pep562' has no attribute '{name}'")

    _module("bench_pep562", {"__getattr__": __getattr__, "present": 1})
    _module("bench_guarded", {"present": 1})
    _module("bench_target", {"get_database_manager": _replacement})
    guard = ssot_guard.install(
        mode="warn",
        shims={"bench_guarded.get_db_session_factory": "bench_target.get_database_manager"},
    )
    names = ("bench_plain", "bench_pep562", "bench_guarded")
    loads = {name: _workloads(name) for name in names}
    best: dict[tuple[str, str], float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for workload in ("from_import", "attribute", "present"):
            for name in names:
                loads[name][workload](1000)  # first report, resolution, warm-up
            for _ in range(args.rounds):
                for name in names:
                    seconds = loads[name][workload](args.calls)
                    key = (workload, name)
                    best[key] = min(best.get(key, seconds), seconds)
    counts = sorted(event.count for event in guard.events)
    ssot_guard.uninstall()

    print(f"python {sys.version.split()[0]}, {args.calls} calls x {args.rounds} rounds")
    print(f"{'workload':12} {'plain':>9} {'pep562':>9} {'guarded':>9} {'extra vs pep562':>16}")
    failed = False
    for workload in ("from_import", "attribute", "present"):
        plain, pep562, guarded = (best[(workload, name)] * 1e6 for name in names)
        extra = guarded - pep562
        flag = ""
        if workload != "present" and extra > BUDGET_US:
            flag, failed = "  OVER BUDGET", True
        print(
            f"{workload:12} {plain:8.3f}µs {pep562:8.3f}µs {guarded:8.3f}µs {extra:+14.3f}µs{flag}"
        )
    print(f"SSOT006 events: {len(counts)}, occurrences counted: {sum(counts)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
