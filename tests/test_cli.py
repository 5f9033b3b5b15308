"""The ``ssot-guard`` command line: run, report, config, help (SPEC §10).

Every command runs in a fresh interpreter (``python -m ssot_guard.cli``), in a temporary
project folder holding a ``.git`` marker so no configuration above it leaks in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scenario import child_env, write_tree

from ssot_guard.render import load_report

GOLDEN = Path(__file__).parent / "golden"

PROGRAM = """
import json, os, sys
import app.a
import ssot_guard
guard = ssot_guard.active()
if guard is not None and guard.installed:
    guard.violation("SSOT002", subject="app.a", message="test violation")
print(json.dumps({
    "argv": sys.argv,
    "path0": sys.path[0],
    "file": __file__,
    "name": __name__,
    "main_is_here": sys.modules["__main__"].__dict__ is globals(),
}))
action = os.environ.get("PROGRAM_EXIT", "")
if action == "raise":
    def fail():
        raise ValueError("bad thing")
    fail()
if action == "interrupt":
    raise KeyboardInterrupt
if action == "message":
    sys.exit("bye from the program")
if action:
    sys.exit(int(action))
"""

APP = {
    "app/__init__.py": "",
    "app/a.py": "from app import b\nX = 1\n",
    "app/b.py": "import json\nY = 2\n",
    "tool/__init__.py": "",
    "tool/__main__.py": """
        import json, sys
        import app.a
        print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "file": __file__,
                          "name": __name__, "spec": __spec__.name,
                          "loader": type(__loader__).__name__,
                          "spec_loader": type(__spec__.loader).__name__}))
    """,
    "prog.py": PROGRAM,
}


def project(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    write_tree(tmp_path, APP if files is None else files)
    return tmp_path


def python(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return python(cwd, "-m", "ssot_guard.cli", *args, env=env)


# ------------------------------------------------------------------ run


def test_run_script_behaves_like_python(tmp_path: Path) -> None:
    root = project(tmp_path)
    script = str(root / "prog.py")
    plain = python(root, script, "5", "--flag")
    guarded = cli(root, "run", script, "5", "--flag")
    assert plain.returncode == 0, plain.stderr
    assert guarded.returncode == 0, guarded.stderr
    # The program owns stdout: it stays exactly its JSON, even with a violation logged.
    assert (
        json.loads(guarded.stdout)
        == json.loads(plain.stdout)
        == {
            "argv": [script, "5", "--flag"],
            "path0": str(root),
            "file": script,
            "name": "__main__",
            "main_is_here": True,
        }
    )
    assert "SSOT002 import-cycle: test violation" in guarded.stderr


def test_run_relative_script_gets_absolute_file_like_python(tmp_path: Path) -> None:
    root = project(tmp_path)
    guarded = cli(root, "run", "prog.py", "a", "--help")
    data = json.loads(guarded.stdout)
    assert data["argv"][1:] == ["a", "--help"]  # program options are not ssot-guard's
    assert data["file"] == str(root / "prog.py")
    assert data["path0"] == str(root)


@pytest.mark.parametrize(
    ("action", "status", "stderr_tail"),
    [
        ("", 0, None),
        ("0", 0, None),
        ("7", 7, None),
        ("message", 1, "bye from the program\n"),
    ],
)
def test_run_exit_status_passthrough(
    tmp_path: Path, action: str, status: int, stderr_tail: str | None
) -> None:
    root = project(tmp_path)
    env = {"PROGRAM_EXIT": action}
    plain = python(root, "prog.py", env=env)
    guarded = cli(root, "run", "prog.py", env=env)
    assert plain.returncode == guarded.returncode == status
    if stderr_tail is not None:
        assert plain.stderr.endswith(stderr_tail)
        assert guarded.stderr.endswith(stderr_tail)


def test_run_uncaught_exception_traceback_as_python(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = {"PROGRAM_EXIT": "raise"}
    script = str(root / "prog.py")
    plain = python(root, script, env=env)
    guarded = cli(root, "run", "--mode", "off", script, env=env)
    assert plain.returncode == guarded.returncode == 1
    assert guarded.stderr == plain.stderr
    assert guarded.stderr.startswith(f'Traceback (most recent call last):\n  File "{script}"')
    assert guarded.stderr.endswith("ValueError: bad thing\n")


def test_run_keyboard_interrupt_as_python(tmp_path: Path) -> None:
    root = project(tmp_path)
    env = {"PROGRAM_EXIT": "interrupt"}
    plain = python(root, "prog.py", env=env)
    guarded = cli(root, "run", "--report", "r.json", "prog.py", env=env)
    assert guarded.returncode == plain.returncode != 0
    assert guarded.stderr.rstrip().endswith("KeyboardInterrupt")
    assert load_report(root / "r.json")["imports"]  # outputs are still written


def test_run_strict_violation_exits_3_and_names_it(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(root, "run", "--mode", "strict", "prog.py")
    assert out.returncode == 3
    assert json.loads(out.stdout)["name"] == "__main__"
    assert out.stderr.endswith(
        "ssot-guard: 1 violation(s) at error severity:\n"
        "  SSOT002 import-cycle: app.a at prog.py:6\n"
    )


def test_run_strict_keeps_a_failing_program_status(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(root, "run", "--mode", "strict", "prog.py", env={"PROGRAM_EXIT": "4"})
    assert out.returncode == 4
    assert "SSOT002 import-cycle: app.a at prog.py:6" in out.stderr


def test_run_warn_violation_keeps_status_0(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(root, "run", "--mode", "warn", "prog.py")
    assert out.returncode == 0
    assert "violation(s) at error severity" not in out.stderr


def test_run_module_behaves_like_python_m(tmp_path: Path) -> None:
    root = project(tmp_path)
    plain = python(root, "-m", "tool", "--verbose", "x")
    guarded = cli(root, "run", "-m", "tool", "--verbose", "x")
    assert guarded.returncode == plain.returncode == 0, guarded.stderr
    expected = {
        "argv": [str(root / "tool" / "__main__.py"), "--verbose", "x"],
        "path0": str(root),
        "file": str(root / "tool" / "__main__.py"),
        "name": "__main__",
        "spec": "tool.__main__",
        "loader": "SourceFileLoader",
        "spec_loader": "SourceFileLoader",
    }
    assert json.loads(plain.stdout) == json.loads(guarded.stdout) == expected


def test_run_writes_report_trace_and_importtime(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(
        root,
        "run",
        "--report",
        "out/r.json",
        "--trace",
        "out/t.json",
        "--importtime",
        "out/i.txt",
        "-m",
        "tool",
    )
    assert out.returncode == 0, out.stderr
    report = load_report(root / "out" / "r.json")
    records = {r["name"]: r for r in report["imports"]}
    assert records["__main__"]["first_party"] is True
    assert records["__main__"]["origin"] == str(root / "tool" / "__main__.py")
    assert (records["app"]["parent"], records["app"]["location"]) == (
        "__main__",
        "tool/__main__.py:2",
    )
    assert (records["app.b"]["parent"], records["app.b"]["location"]) == ("app.a", "app/a.py:1")
    # runpy's own imports (tool package, pkgutil) happen before __main__ runs, as in python.
    assert "pkgutil" not in records
    lines = (root / "out" / "i.txt").read_text().splitlines()
    assert lines[0] == "import time: self [us] | cumulative | imported package"
    assert lines[-1].endswith("| __main__")
    assert any(line.endswith(" |     app.b") for line in lines)
    trace = json.loads((root / "out" / "t.json").read_text())
    slices = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    assert slices["app.b"]["ts"] >= slices["app.a"]["ts"] >= slices["__main__"]["ts"]


def test_run_missing_script_and_module(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(root, "run", "nothing.py")
    assert out.returncode == 2
    assert out.stderr == (
        f"ssot-guard: error: can't open file '{root / 'nothing.py'}': "
        "[Errno 2] No such file or directory\n"
    )
    out = cli(root, "run", "-m", "nothing_here")
    assert (out.returncode, out.stderr) == (1, "ssot-guard: error: No module named nothing_here\n")


def test_run_mode_off_runs_the_program_unguarded(tmp_path: Path) -> None:
    root = project(tmp_path)
    out = cli(root, "run", "--mode", "off", "--report", "r.json", "prog.py", "z")
    assert out.returncode == 0
    assert json.loads(out.stdout)["argv"][1:] == ["z"]
    assert load_report(root / "r.json")["imports"] == []


def test_run_invalid_configuration_is_one_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "pyproject.toml").write_text('[tool.ssot_guard]\nmdoe = "strict"\n')
    out = cli(root, "run", "prog.py")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith(
        f"ssot-guard: error: {root / 'pyproject.toml'}: unknown key 'mdoe'"
    )
    assert "did you mean 'mode'?" in out.stderr
    assert "Traceback" not in out.stderr


# ------------------------------------------------------------------ report


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [
        ("text", "cycle_report.txt"),
        ("importtime", "cycle_report.importtime.txt"),
        ("trace", "cycle_report.trace.json"),
        ("dot", "cycle_report.dot"),
    ],
)
def test_report_command_formats(tmp_path: Path, fmt: str, golden: str) -> None:
    out = cli(tmp_path, "report", str(GOLDEN / "cycle_report.json"), "--format", fmt)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (GOLDEN / golden).read_text(encoding="utf-8")


def test_report_command_json_and_output_file(tmp_path: Path) -> None:
    source = GOLDEN / "cycle_report.json"
    out = cli(tmp_path, "report", str(source), "-f", "json", "-o", "sub/copy.json")
    assert (out.returncode, out.stdout) == (0, "")
    assert json.loads((tmp_path / "sub" / "copy.json").read_text()) == json.loads(
        source.read_text()
    )


def test_report_command_text_options(tmp_path: Path) -> None:
    out = cli(tmp_path, "report", str(GOLDEN / "cycle_report.json"), "--top", "1", "--depth", "0")
    assert "top 1)" in out.stdout
    assert "\n  app  " not in out.stdout


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not valid JSON (line 1, column 2"),
        ('{"traceEvents": []}', "not an ssot_guard report (no 'schema' key"),
        ('{"schema": "ssot_guard.report/1"}', "missing top-level key 'config'"),
    ],
)
def test_report_command_rejects_bad_files(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = cli(tmp_path, "report", str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith(f"ssot-guard: error: {path}: {problem}")
    assert out.stderr.count("\n") == 1


def test_report_command_missing_file(tmp_path: Path) -> None:
    out = cli(tmp_path, "report", "nope.json")
    assert (out.returncode, out.stderr) == (2, "ssot-guard: error: nope.json: no such file\n")


def test_run_then_report_round_trip(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert cli(root, "run", "--report", "r.json", "prog.py").returncode == 0
    out = cli(root, "report", "r.json")
    assert out.returncode == 0, out.stderr
    assert "SSOT002 import-cycle: 1 violation, 1 occurrence" in out.stdout
    assert "  warn   app.a  at prog.py:6" in out.stdout
    assert "\n__main__  " in out.stdout
    assert "\n  app.a  " in out.stdout and "from prog.py:2  [first-party]" in out.stdout


# ------------------------------------------------------------------ config


def config_project(tmp_path: Path) -> Path:
    root = project(tmp_path, {})
    (root / "pyproject.toml").write_text(
        '[tool.ssot_guard]\npackages = ["app"]\n\n[tool.ssot_guard.rules]\nimport-cycle = "log"\n'
    )
    return root


def test_config_text_names_sources(tmp_path: Path) -> None:
    root = config_project(tmp_path)
    out = cli(root, "config", env={"SSOT_GUARD_MODE": "strict"})
    assert out.returncode == 0, out.stderr
    pyproject = str(root / "pyproject.toml")
    lines = out.stdout.splitlines()
    assert lines[0] == f"config file:  {pyproject}"
    assert lines[1] == f"project root: {root}"
    fields = {line.split(" = ")[0].strip(): line.split(" = ")[1] for line in lines if " = " in line}
    assert fields["mode"].split("#") == ['"strict"'.ljust(41), " environment SSOT_GUARD_MODE"]
    assert fields["packages"].endswith(f"# {pyproject}")
    assert fields["deep"].endswith("# default")
    assert f"  SSOT002 import-cycle                 log    # {pyproject}" in lines
    assert "  SSOT001 partial-module-access        error  # mode strict" in lines


def test_config_json(tmp_path: Path) -> None:
    root = config_project(tmp_path)
    out = cli(root, "config", "--format", "json")
    data: dict[str, Any] = json.loads(out.stdout)
    assert data["config_file"] == str(root / "pyproject.toml")
    assert data["settings"]["mode"] == {"value": "warn", "source": "default"}
    assert data["settings"]["packages"] == {
        "value": ["app"],
        "source": str(root / "pyproject.toml"),
    }
    assert data["rules"]["SSOT002"] == {
        "name": "import-cycle",
        "severity": "log",
        "source": str(root / "pyproject.toml"),
    }
    assert data["rules"]["SSOT009"]["source"] == "mode warn"


def test_config_invalid(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    (root / "pyproject.toml").write_text('[tool.ssot_guard]\nmode = "loud"\n')
    out = cli(root, "config")
    assert out.returncode == 2
    assert out.stderr.startswith(f"ssot-guard: error: {root / 'pyproject.toml'}: key 'mode'")


# ------------------------------------------------------------------ help and wiring


@pytest.mark.parametrize("command", [(), ("run",), ("report",), ("config",)])
def test_help_has_examples(tmp_path: Path, command: tuple[str, ...]) -> None:
    out = cli(tmp_path, *command, "--help")
    assert out.returncode == 0
    assert out.stdout.startswith("usage: ssot-guard")
    assert "\nexamples:\n  ssot-guard " in out.stdout
    if command:
        assert "exit status:" in out.stdout


def test_run_usage_shows_module_or_script(tmp_path: Path) -> None:
    out = cli(tmp_path, "run", "--help")
    assert "(-m MODULE | SCRIPT) [ARGS ...]" in out.stdout
    out = cli(tmp_path, "run")
    assert out.returncode == 2
    assert "the following arguments are required: SCRIPT | MODULE" in out.stderr


@pytest.mark.parametrize("command", ["check", "demo"])
def test_lazy_commands_are_wired(tmp_path: Path, command: str) -> None:
    out = cli(tmp_path, command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: ssot-guard {command}")


def test_no_command_prints_help(tmp_path: Path) -> None:
    out = cli(tmp_path)
    assert out.returncode == 0
    assert "COMMAND" in out.stdout and "run" in out.stdout and "report" in out.stdout


def test_installed_script_entry_point(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "ssot-guard"
    if not script.exists():
        pytest.skip("ssot-guard script not installed in this environment")
    proc = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("ssot-guard ")


def test_run_waits_for_program_threads_before_writing_outputs(tmp_path: Path) -> None:
    files = dict(APP)
    files["late.py"] = """
        import threading, time
        def work():
            time.sleep(0.3)
            import app.a
        threading.Thread(target=work, name="late-worker").start()
    """
    root = project(tmp_path, files)
    out = cli(root, "run", "--mode", "strict", "--report", "r.json", "late.py")
    assert out.returncode == 0, out.stderr
    records = {r["name"]: r for r in load_report(root / "r.json")["imports"]}
    assert records["app.a"]["thread"] == "late-worker"
    assert records["app.b"]["parent"] == "app.a"


def test_run_output_paths_are_relative_to_the_starting_folder(tmp_path: Path) -> None:
    files = dict(APP)
    files["wander.py"] = "import os\nos.makedirs('elsewhere')\nos.chdir('elsewhere')\n"
    root = project(tmp_path, files)
    out = cli(root, "run", "--report", "r.json", "--importtime", "i.txt", "wander.py")
    assert out.returncode == 0, out.stderr
    assert (root / "r.json").is_file() and (root / "i.txt").is_file()
    assert not (root / "elsewhere" / "r.json").exists()


def test_run_unwritable_output_is_reported_with_status_2(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "blocked").write_text("a file, not a folder")
    out = cli(root, "run", "--report", "blocked/r.json", "prog.py")
    assert out.returncode == 2
    assert json.loads(out.stdout)["name"] == "__main__"  # the program still ran
    last = out.stderr.splitlines()[-1]
    assert last.startswith(f"ssot-guard: error: cannot write {root / 'blocked' / 'r.json'}: ")


@pytest.mark.parametrize(("mode", "status"), [("strict", 3), ("warn", 0)])
def test_run_internal_error_fails_only_strict_runs(tmp_path: Path, mode: str, status: int) -> None:
    files = {
        "buggy.py": """
            import ssot_guard
            ssot_guard.active().internal_error("some-feature", RuntimeError("bug"))
            print("done")
        """
    }
    root = project(tmp_path, files)
    out = cli(root, "run", "--mode", mode, "buggy.py")
    assert (out.returncode, out.stdout) == (status, "done\n")
    listed = "  internal error in some-feature: RuntimeError\n"
    assert out.stderr.endswith(listed) == (mode == "strict")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("prog.py", "--", "a"), ["--", "a"]),  # the program's "--" is the program's
        (("--", "prog.py", "a", "--", "b"), ["a", "--", "b"]),  # a leading "--" ends ours
        (("prog.py", "--mode", "strict", "-m"), ["--mode", "strict", "-m"]),
    ],
)
def test_run_passes_program_arguments_verbatim(
    tmp_path: Path, arguments: tuple[str, ...], expected: list[str]
) -> None:
    root = project(tmp_path)
    out = cli(root, "run", *arguments)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["argv"][1:] == expected
    script = next(a for a in arguments if a != "--")
    plain = python(root, script, *expected)
    assert json.loads(plain.stdout)["argv"][1:] == expected


def test_report_command_rejects_negative_counts(tmp_path: Path) -> None:
    out = cli(tmp_path, "report", str(GOLDEN / "cycle_report.json"), "--depth", "-1")
    assert out.returncode == 2
    assert out.stderr.endswith("error: argument --depth: expected 0 or more, got -1\n")
