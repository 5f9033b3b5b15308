"""The cold-import benchmark still runs end to end (a smoke run, not a measurement)."""

from __future__ import annotations

import json
import subprocess
import sys

from scenario import REPO_ROOT, child_env


def test_import_overhead_smoke_run() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "import_overhead.py"),
            "--runs=1",
            "--modules=50",
            "--core",
            "--floor",
            "--json",
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # One package of 50 modules, its __init__ and the application's root package; the
    # records add the standard-library modules the child imports first.
    assert (result["modules_generated"], result["events"], result["runs"]) == (52, 0, 1)
    assert result["records"] > 52
    ratios = ("ratio_median", "installed_ratio_median", "floor_ratio_median", "core_ratio_median")
    assert all(isinstance(result[key], float) and result[key] > 0 for key in ratios)
    low, high = result["ratio_middle_half"]
    assert low == high == result["ratio_median"]
