"""``ssot-guard check`` (issue 8): each module imported first, in its own interpreter."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scenario import REPO_ROOT, child_env, write_tree

from ssot_guard._check import discover, partial_module

# app.base <-> app.env: fine when app.env is imported first, broken when app.base is.
CYCLE_TREE = {
    "app/__init__.py": "",
    "app/base.py": """
        import app.env
        BASE_URL = "https://example.invalid"
    """,
    "app/env.py": """
        from app.base import BASE_URL
        ENV = "prod"
    """,
    "app/api.py": """
        import json
        from app import base
    """,
    "app/util.py": "X = 1\n",
}

HOSTILE_TREE = {
    "hostile/__init__.py": "",
    "hostile/hang.py": "import time\ntime.sleep(600)\n",
    "hostile/hard_exit.py": "import os\nos._exit(7)\n",
    "hostile/cli.py": """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("path")
        ARGS = parser.parse_args()
    """,
    "hostile/needs_argv.py": "import sys\nNAME = sys.argv[1]\n",
    "hostile/loud.py": """
        import sys
        for _ in range(40000):
            print("x" * 99)
            print("y" * 99, file=sys.stderr)
    """,
    "hostile/thread.py": """
        import threading, time
        threading.Thread(target=time.sleep, args=(600,)).start()
    """,
    "hostile/fine.py": "VALUE = 1\n",
}


def check(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_guard.cli", "check", *args],
        cwd=tmp_path,
        env=child_env({"PYTHONPATH": str(REPO_ROOT), **(env or {})}),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def check_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = check(tmp_path, "--format", "json", *args)
    return proc.returncode, json.loads(proc.stdout)


def by_module(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["module"]: entry for entry in data["modules"]}


@pytest.mark.parametrize("launch", [[], ["--fork"]], ids=["spawn", "fork"])
def test_order_dependent_cycle_is_grouped_with_its_closing_statement(
    tmp_path: Path, launch: list[str]
) -> None:
    write_tree(tmp_path, CYCLE_TREE)
    status, data = check_json(tmp_path, "app", *launch)
    assert status == 1
    assert data["summary"]["fork"] is bool(launch)
    modules = by_module(data)
    assert sorted(modules) == ["app", "app.api", "app.base", "app.env", "app.util"]
    assert modules["app.base"]["status"] == "failed"
    assert modules["app.api"]["status"] == "failed"
    # Imported first, app.env completes: the order-dependence check exists to find.
    assert modules["app.env"]["status"] in ("ok", "violations")
    assert modules["app.util"]["status"] == "ok"
    assert modules["app"]["status"] == "ok"
    error = modules["app.base"]["error"]
    assert error["type"] == "ImportError"
    assert "partially initialized module 'app.base'" in error["message"]

    failing = [group for group in data["cycles"] if group["failing"]]
    assert len(failing) == 1
    group = failing[0]
    assert group["cycle"] == ["app.base", "app.env", "app.base"]
    assert group["failing"] == ["app.api", "app.base"]
    assert group["closed_by"]["location"] == "app/env.py:1"
    assert group["closed_by"]["module"] == "app.env"
    assert group["closed_by"]["code"] == "from app.base import BASE_URL"
    assert group["error"].startswith("ImportError: cannot import name 'BASE_URL' from partially")
    assert data["summary"]["failed"] == 2
    assert data["summary"]["exit_status"] == 1
    assert data["schema"] == "ssot_guard.check/1"


def test_text_report_names_cycle_path_and_statement(tmp_path: Path) -> None:
    write_tree(tmp_path, CYCLE_TREE)
    proc = check(tmp_path, "app", "--jobs", "2")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(
        "ssot-guard check: 5 modules imported first, 2 ok, 2 failed, "
    ) or lines[0].startswith("ssot-guard check: 5 modules imported first, 3 ok, 2 failed, ")
    assert "(mode warn, 2 jobs, " in lines[0]
    start = lines.index("2 entry points fail because of the cycle app.base -> app.env -> app.base")
    assert lines[start + 1] == "  closed by app/env.py:1 in app.env  from app.base import BASE_URL"
    assert lines[start + 2] == (
        "  (that statement uses app.base while its body is still executing; "
        "moving it breaks the cycle)"
    )
    assert "  failing: app.api, app.base" in lines
    assert lines[-1] == "check FAILED"
    assert proc.stderr == ""  # not a terminal: no progress line


def test_path_of_cycle_from_the_traceback(tmp_path: Path) -> None:
    """Without rule chains the path comes from the module frames of the traceback."""
    tree = {
        "pkg/__init__.py": "",
        "pkg/a.py": "import os\nfrom pkg import b\nA = 1\n",
        "pkg/b.py": "from pkg import c\n",
        "pkg/c.py": "X = 0\nY = 1\nfrom pkg.a import A\n",
    }
    write_tree(tmp_path, tree)
    status, data = check_json(tmp_path, "pkg.a")
    assert status == 1
    (entry,) = data["modules"]
    assert entry["module"] == "pkg.a"
    assert entry["cycle"] == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    assert entry["closed_by"]["location"] == "pkg/c.py:3"
    if entry["closed_by"]["source"] == "traceback":
        assert entry["steps"] == [
            {"module": "pkg.a", "location": "pkg/a.py:2", "code": "from pkg import b"},
            {"module": "pkg.b", "location": "pkg/b.py:1", "code": "from pkg import c"},
            {"module": "pkg.c", "location": "pkg/c.py:3", "code": "from pkg.a import A"},
        ]


@pytest.mark.parametrize("launch", [[], ["--fork"]], ids=["spawn", "fork"])
def test_clean_tree_passes(tmp_path: Path, launch: list[str]) -> None:
    write_tree(
        tmp_path,
        {
            "clean/__init__.py": "from clean import models\n",
            "clean/models.py": "class User: ...\n",
            "clean/views.py": "from clean.models import User\n",
            "clean/sub/__init__.py": "",
            "clean/sub/deep.py": "import clean.views\n",
        },
    )
    proc = check(tmp_path, *launch)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith(
        "ssot-guard check: 5 modules imported first, 5 ok, 0 failed, 0 with violations"
    )
    assert proc.stdout.splitlines()[-1] == "check passed"
    status, data = check_json(tmp_path, *launch)
    assert status == 0
    assert [m["module"] for m in data["modules"]] == [
        "clean",
        "clean.models",
        "clean.sub",
        "clean.sub.deep",
        "clean.views",
    ]
    assert {m["status"] for m in data["modules"]} == {"ok"}
    assert data["cycles"] == []


@pytest.mark.parametrize("launch", [[], ["--fork"]], ids=["spawn", "fork"])
def test_hostile_modules_are_reported_and_never_stall_the_run(
    tmp_path: Path, launch: list[str]
) -> None:
    write_tree(tmp_path, HOSTILE_TREE)
    started = time.perf_counter()
    proc = check(tmp_path, "hostile", "--format", "json", "--timeout", "3", "--jobs", "2", *launch)
    elapsed = time.perf_counter() - started
    assert elapsed < 30
    assert proc.returncode == 1
    data = json.loads(proc.stdout)  # megabytes printed by a module never reach our stdout
    modules = by_module(data)
    assert modules["hostile.hang"]["status"] == "timeout"
    assert "still importing after 3s" in modules["hostile.hang"]["hint"]

    hard = modules["hostile.hard_exit"]
    assert (hard["status"], hard["exit_code"]) == ("exit", 7)
    assert hard["error"]["type"] == "os._exit"
    assert hard["error"]["frames"][0]["line"] == 2
    assert "os._exit(7)" in hard["hint"]

    cli = modules["hostile.cli"]
    assert (cli["status"], cli["exit_code"]) == ("exit", 2)
    assert cli["error"]["type"] == "SystemExit"
    assert "parses command-line arguments at import time" in cli["hint"]

    argv = modules["hostile.needs_argv"]
    assert argv["status"] == "failed"
    assert argv["error"]["type"] == "IndexError"
    assert argv["hint"] == "the module reads command-line arguments at import time (sys.argv)"

    loud = modules["hostile.loud"]
    assert loud["status"] == "ok"
    assert loud["stdout_bytes"] == 40000 * 100
    assert loud["stderr_bytes"] == 40000 * 100
    assert loud["stderr_tail"] == ""  # kept only for failures

    assert modules["hostile.thread"]["status"] == "ok"  # a non-daemon thread cannot hang it
    assert modules["hostile.fine"]["status"] == "ok"
    assert data["summary"]["by_status"] == {"exit": 2, "failed": 1, "ok": 4, "timeout": 1}


def test_hostile_text_report(tmp_path: Path) -> None:
    write_tree(tmp_path, HOSTILE_TREE)
    proc = check(
        tmp_path, "hostile.hard_exit", "hostile.needs_argv", "hostile.cli", "--timeout", "5"
    )
    assert proc.returncode == 1
    out = proc.stdout
    assert "Other failures\n" in out
    assert "  hostile.hard_exit: exit os._exit: os._exit(7)\n    at hostile/hard_exit.py:2" in out
    assert (
        "  hostile.needs_argv: failed IndexError: list index out of range\n"
        "    at hostile/needs_argv.py:2  NAME = sys.argv[1]\n"
        "    the module reads command-line arguments at import time (sys.argv)\n"
    ) in out
    assert (
        "  hostile.cli: exit SystemExit: 2\n    at hostile/cli.py:4  ARGS = parser.parse_args()"
        in out
    )


def test_progress_line_on_request(tmp_path: Path) -> None:
    write_tree(tmp_path, CYCLE_TREE)
    proc = subprocess.run(
        [sys.executable, "-m", "ssot_guard.cli", "check", "app.util", "app.api", "--progress"],
        cwd=tmp_path,
        env=child_env({"PYTHONPATH": str(REPO_ROOT)}),
        capture_output=True,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert "\r[1/2] " in err
    assert "\r[2/2] 1 failed  " in err
    assert err.endswith("\r")
    assert proc.stdout.decode().startswith("ssot-guard check: 2 modules")


def test_excludes_from_config_and_command_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.ssot_guard]
                packages = ["app"]
                check-exclude = ["app.scripts", "*.generated_*"]
            """,
            ".git/HEAD": "",
            "app/__init__.py": "",
            "app/core.py": "",
            "app/scripts/__init__.py": "",
            "app/scripts/migrate.py": "raise SystemExit('do not import me')\n",
            "app/models/__init__.py": "",
            "app/models/generated_user.py": "",
            "app/models/user.py": "",
            "app/slow.py": "import time\ntime.sleep(600)\n",
            "other/__init__.py": "raise RuntimeError('not configured')\n",
        },
    )
    status, data = check_json(tmp_path, "--exclude", "app.slow")
    assert status == 0
    assert [m["module"] for m in data["modules"]] == [
        "app",
        "app.core",
        "app.models",
        "app.models.user",
    ]


def test_discover_skips_tests_venvs_main_and_setup(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "setup.py": "",
            "conftest.py": "",
            "tool.py": "",
            "tests/__init__.py": "",
            "tests/test_a.py": "",
            ".venv/pyvenv.cfg": "",
            ".venv/lib/site/__init__.py": "",
            "venv2/pyvenv.cfg": "",
            "venv2/pkg/__init__.py": "",
            "app/__init__.py": "",
            "app/__main__.py": "",
            "app/test_helpers.py": "",
            "app/tests/__init__.py": "",
            "app/tests/test_x.py": "",
            "app/ns/mod.py": "",
            "app/2bad.py": "",
            "docs/conf.py": "",
        },
    )
    names = [t.name for t in discover(tmp_path)]
    assert names == ["app", "app.ns.mod", "tool"]
    names = [t.name for t in discover(tmp_path, include_tests=True)]
    assert names == [
        "app",
        "app.ns.mod",
        "app.test_helpers",
        "app.tests",
        "app.tests.test_x",
        "tests",
        "tests.test_a",
        "tool",
    ]
    assert [t.name for t in discover(tmp_path, ["app"], exclude=["app.ns*"])] == ["app"]


def test_discover_src_layout(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/lib/__init__.py": "", "src/lib/core.py": "", "README.md": ""})
    targets = discover(tmp_path)
    assert [(t.name, t.root) for t in targets] == [
        ("lib", tmp_path / "src"),
        ("lib.core", tmp_path / "src"),
    ]
    assert [t.name for t in discover(tmp_path, ["lib.core"])] == ["lib.core"]


def test_src_layout_is_importable_in_children(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/lib/__init__.py": "", "src/lib/core.py": "from lib import x\n"})
    status, data = check_json(tmp_path)
    assert status == 1
    modules = by_module(data)
    assert modules["lib"]["status"] == "ok"
    assert modules["lib.core"]["status"] == "failed", modules["lib.core"]
    assert modules["lib.core"]["error"]["type"] == "ImportError"


def test_unknown_package_is_a_usage_error(tmp_path: Path) -> None:
    proc = check(tmp_path, "nosuchpkg")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "package 'nosuchpkg' not found under" in proc.stderr


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("cannot import name 'X' from partially initialized module 'a.b' (most likely", "a.b"),
        ("partially initialized module 'pkg' has no attribute 'x' (most likely due", "pkg"),
        ("cannot access submodule 'x' of module 'p2' (most likely due to a circular", "p2.x"),
        ("No module named 'nothing'", None),
    ],
)
def test_partial_module_from_cpython_messages(message: str, expected: str | None) -> None:
    assert partial_module({"message": message}) == expected


def imports_ready() -> bool:
    source = (REPO_ROOT / "ssot_guard" / "rules" / "imports.py").read_text(encoding="utf-8")
    return "Not implemented yet" not in source


def test_demo_app_config_cycle_fails_when_environment_comes_first(tmp_path: Path) -> None:
    from ssot_guard._demo import prepare

    project = prepare(tmp_path)
    status, data = check_json(project)
    assert status == 1
    modules = by_module(data)
    failed = [name for name, entry in modules.items() if entry["status"] == "failed"]
    assert failed == ["chatapp.config.environment"]
    entry = modules["chatapp.config.environment"]
    assert entry["error"]["type"] == "AttributeError"
    assert "partially initialized module 'chatapp.config.environment'" in entry["error"]["message"]
    assert entry["cycle"] == [
        "chatapp.config.environment",
        "chatapp.config.base",
        "chatapp.config.environment",
    ]
    closed = entry["closed_by"]
    if imports_ready():
        # The import statement that handed out the partial module, and the read that failed.
        assert closed["location"] == "chatapp/config/base.py:3"
        assert closed["code"] == "from chatapp.config import environment"
        assert closed["failed_at"] == "chatapp/config/base.py:12"
        assert closed["failed_code"] == '"rate_limit": environment.RATE_LIMIT,'
    else:
        assert closed["location"] == "chatapp/config/base.py:12"
    assert modules["chatapp.golden_path"]["status"] in ("ok", "violations")


def test_warn_rules_pass_and_strict_fails(tmp_path: Path) -> None:
    """A harmless cycle (SSOT002) only fails the check where the rule is an error."""
    write_tree(
        tmp_path,
        {
            "loop/__init__.py": "",
            "loop/a.py": "from loop import b\nA = 1\n",
            "loop/b.py": "from loop import a\ndef use() -> int:\n    return a.A\n",
        },
    )
    status, data = check_json(tmp_path, "loop")
    assert status == 0
    strict_status, strict = check_json(tmp_path, "loop", "--mode", "strict")
    assert strict["summary"]["mode"] == "strict"
    if imports_ready():
        assert by_module(data)["loop.a"]["status"] == "violations"
        assert [e["rule"] for e in by_module(data)["loop.a"]["events"]] == ["SSOT002"]
        assert data["summary"]["error_events"] == 0
        assert strict_status == 1
        assert strict["summary"]["error_events"] >= 1
        assert strict["summary"]["failed"] == 0
    else:
        assert strict_status == 0


def test_module_imported_at_start_up_is_skipped(tmp_path: Path) -> None:
    """site imports sitecustomize (found on PYTHONPATH) before the guard can start."""
    write_tree(
        tmp_path,
        {
            "sitecustomize.py": "import app.pre\n",
            "app/__init__.py": "",
            "app/pre.py": "",
            "app/later.py": "",
        },
    )
    status, data = check_json(tmp_path, "app")
    assert status == 0
    modules = by_module(data)
    assert modules["app.pre"]["status"] == "skipped"
    assert modules["app"]["status"] == "skipped"
    assert modules["app.later"]["status"] == "ok"
    assert data["summary"]["failed"] == 0
    text = check(tmp_path, "app").stdout
    assert "Skipped (already imported when the guard started: cannot be imported first)\n" in text
    assert "  app, app.pre\n" in text
    assert text.startswith(
        "ssot-guard check: 3 modules imported first, 1 ok, 0 failed, 0 with violations, 2 skipped ("
    )


def test_rules_see_the_whole_package_of_a_checked_module(tmp_path: Path) -> None:
    """``check app.api`` still reports the cycle between its siblings app.base and app.env."""
    write_tree(tmp_path, CYCLE_TREE)
    status, data = check_json(tmp_path, "app.api")
    assert status == 1
    (entry,) = data["modules"]
    assert entry["cycle"] == ["app.base", "app.env", "app.base"]
    if imports_ready():
        assert [e["rule"] for e in entry["events"]] == ["SSOT001"]
        assert entry["closed_by"]["source"] == "SSOT001"


@pytest.mark.parametrize("launch", [[], ["--fork"]], ids=["spawn", "fork"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_interrupted_check_stops_its_children(
    tmp_path: Path, launch: list[str], signum: int
) -> None:
    hang = (
        "import os, pathlib, time\n"
        "pathlib.Path(__file__).with_suffix('.pid').write_text(str(os.getpid()))\n"
        "time.sleep(120)\n"
    )
    write_tree(tmp_path, {"hang/__init__.py": "", "hang/a.py": hang, "hang/b.py": hang})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssot_guard.cli", "check", "hang", "--timeout", "100", *launch],
        cwd=tmp_path,
        env=child_env({"PYTHONPATH": str(REPO_ROOT)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_files = [tmp_path / "hang" / "a.pid", tmp_path / "hang" / "b.pid"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(p.exists() for p in pid_files):
        time.sleep(0.05)
    time.sleep(0.2)
    pids = [int(p.read_text()) for p in pid_files]
    assert all(_alive(pid) for pid in pids)
    proc.send_signal(signum)
    started = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert proc.returncode == 130
    assert out == ""
    assert "ssot-guard check: interrupted; children stopped" in err
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie waiting to be reaped counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_discover_survives_a_symlink_loop(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/__init__.py": "", "app/sub/__init__.py": "", "app/sub/m.py": ""})
    (tmp_path / "app" / "sub" / "loop").symlink_to(tmp_path / "app", target_is_directory=True)
    assert [t.name for t in discover(tmp_path, ["app"])] == ["app", "app.sub", "app.sub.m"]
