"""Every benchmark still runs end to end (smoke runs, not measurements)."""

from __future__ import annotations

import json
import subprocess
import sys

from scenario import REPO_ROOT, child_env


def _bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_overhead_smoke_run() -> None:
    args = ("--runs=1", "--modules=50", "--core", "--floor", "--json")
    proc = _bench("import_overhead.py", *args)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # One package of 50 modules, its __init__ and the application's root package; the
    # records add the standard-library modules the child imports first.
    assert (result["modules_generated"], result["events"], result["runs"]) == (52, 0, 1)
    assert result["records"] > 52
    ratios = (
        "ratio_median",
        "installed_ratio_median",
        "floor_ratio_median",
        "spec-floor_ratio_median",
        "core_ratio_median",
    )
    assert all(isinstance(result[key], float) and result[key] > 0 for key in ratios)
    over_floor = result["ratio_median"] / result["floor_ratio_median"]
    assert abs(result["guard_over_floor_median"] - over_floor) < 1e-3  # one pair
    low, high = result["ratio_middle_half"]
    assert low == high == result["ratio_median"]


def test_timing_benchmarks_smoke_run() -> None:
    """Tiny runs: no traceback and the full table. Their budgets are timing checks (exit 1
    when over), which a smoke run on a loaded machine must not judge."""
    attribute = _bench("attribute_access.py", "--reads=2000", "--rounds=1", "--tolerance=100")
    assert attribute.returncode == 0, attribute.stderr
    rows = [line.split()[0] for line in attribute.stdout.splitlines() if "ns/op" in line]
    assert rows == ["attr", "from", "raise"]
    expected = {
        "instantiation.py": "singleton, cached instance",
        "shims.py": "SSOT006 events: 2, occurrences counted: 6000",
    }
    for script, line in expected.items():
        proc = _bench(script, "--calls=2000", "--rounds=1")
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
        assert line in proc.stdout


def test_startup_smoke_run() -> None:
    proc = _bench("startup.py", "--runs=1", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["runs"], result["preload"], result["bare_modules_added"]) == (1, "", 0)
    # The kill switch imports the configuration and the guard class, not the machinery.
    assert 0 < result["off_modules_added"] < result["warn_modules_added"]
    assert all(result[f"{kind}_ms_median"] > 0 for kind in ("bare", "off", "warn"))


def test_check_jobs_smoke_run() -> None:
    proc = _bench("check_jobs.py", "--modules=5", "--jobs", "1", "--no-fork")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("   1 ")]
    assert len(rows) == 1 and rows[0].endswith("(1 failed, as generated)")
