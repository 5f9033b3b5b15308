"""Events and policy: de-duplication, attribution, routing, internal errors (SPEC §3.2-3.3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scenario import child_env, run, write_tree

import ssot_guard
from ssot_guard import _frames

EMITTER = {
    "emitter.py": """
        import ssot_guard
        guard = ssot_guard.active()
        guard.violation("SSOT002", subject="emitter", message="from a module body")
        DONE = True
    """,
}


def test_deduplication_by_rule_subject_and_location(tmp_path: Path) -> None:
    snippet = """
        for _ in range(3):
            guard.violation("SSOT002", subject="a", message="m")
        guard.violation("SSOT002", subject="b", message="m")
        guard.violation("SSOT002", subject="a", message="m")
        guard.violation("SSOT003", subject="a", message="m")
    """
    out = run(tmp_path, {}, snippet)
    assert [(e["rule"], e["subject"], e["location"], e["count"]) for e in out.events] == [
        ("SSOT002", "a", "<scenario>:3", 3),
        ("SSOT002", "b", "<scenario>:4", 1),
        ("SSOT002", "a", "<scenario>:5", 1),
        ("SSOT003", "a", "<scenario>:6", 1),
    ]
    # One warning per distinct event, not per occurrence.
    assert [(w["category"], w["lineno"]) for w in out.warnings] == [
        ("ImportRuleWarning", 3),
        ("ImportRuleWarning", 4),
        ("ImportRuleWarning", 5),
        ("ImportRuleWarning", 6),
    ]
    assert out.warnings[0]["message"] == "SSOT002 import-cycle: m"
    assert out.warnings[0]["filename"] == "<scenario>"


def test_event_inside_an_import_is_buffered_and_attributed(tmp_path: Path) -> None:
    snippet = """
        import sys
        seen = []
        guard.add_listener(lambda event, new: seen.append(
            (event.subject, new, len(guard._state.stack), "emitter" in sys.modules)))
        import emitter
        result["seen"] = seen
    """
    out = run(tmp_path, EMITTER, snippet)
    assert out.result == {"seen": [["emitter", True, 0, True]]}
    (event,) = out.events
    assert event["location"] == "emitter.py:3"
    (warning,) = out.warnings
    assert (warning["filename"], warning["lineno"]) == (str(tmp_path / "emitter.py"), 3)
    assert warning["category"] == "ImportRuleWarning"


def test_warning_categories_per_rule_family(tmp_path: Path) -> None:
    snippet = """
        for code in ("SSOT001", "SSOT004", "SSOT006"):
            guard.violation(code, subject="s", message="m")
    """
    out = run(tmp_path, {}, snippet)
    assert [w["category"] for w in out.warnings] == [
        "ImportRuleWarning",
        "ClassRuleWarning",
        "CompatShimWarning",
    ]


def test_internal_frames_are_skipped_for_attribution() -> None:
    own = os.path.dirname(ssot_guard.__file__)
    assert _frames.is_internal(os.path.join(own, "_guard.py"))
    assert not _frames.is_internal(os.path.join(own, "_demo", "app", "x.py"))
    import wrapt

    assert _frames.is_internal(wrapt.__file__)
    for frozen in ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>",
                   "<frozen importlib.util>", "<frozen zipimport>", "<frozen runpy>"):  # fmt: skip
        assert _frames.is_internal(frozen), frozen
    import importlib
    import runpy

    assert _frames.is_internal(importlib.__file__ or "")
    assert _frames.is_internal(runpy.__file__ or "")
    assert not _frames.is_internal(__file__)
    assert not _frames.is_internal("<string>")


def test_unconfigured_structlog_routes_to_stdlib_logger(tmp_path: Path) -> None:
    snippet = """
        import logging, sys, ssot_guard
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append((record.levelname, record.getMessage().split(" ")[0],
                                sorted(record.ssot_guard)))
        logger = logging.getLogger("ssot_guard")
        logger.addHandler(Keep())
        logger.setLevel(logging.DEBUG)
        guard = ssot_guard.install()
        guard.violation("SSOT002", subject="x", message="m")
        with guard.severities({"SSOT003": "log"}):
            guard.violation("SSOT003", subject="x", message="m")
        ssot_guard.uninstall()
        result["records"] = records
        result["structlog_imported"] = "structlog" in sys.modules
    """
    out = run(tmp_path, {}, snippet, unguarded=True)
    fields = ["chain", "count", "location", "message", "name", "rule", "severity", "subject",
              "thread"]  # fmt: skip
    assert out.result["records"] == [
        ["INFO", "ssot_guard.installed", ["config_file", "mode", "packages"]],
        ["WARNING", "ssot_guard.import_cycle", ["at_us", *fields]],
        ["INFO", "ssot_guard.double_import", ["at_us", *fields]],
        ["INFO", "ssot_guard.uninstalled", ["mode"]],
    ]
    # The guard never imports structlog itself when the application did not configure it.
    assert out.result["structlog_imported"] is False


def test_last_resort_handler_prints_warnings_to_stderr_only(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "prog.py": """
                import ssot_guard
                guard = ssot_guard.install()
                guard.violation("SSOT002", subject="prog", message="warned")
                with guard.severities({"SSOT003": "log"}):
                    guard.violation("SSOT003", subject="prog", message="logged")
                print("data")
            """
        },
    )
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "prog.py"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.stdout == "data\n"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    name, _, payload = lines[0].partition(" ")
    assert name == "ssot_guard.import_cycle"
    data = json.loads(payload)
    assert (data["rule"], data["subject"], data["location"], data["message"]) == (
        "SSOT002",
        "prog",
        "prog.py:3",
        "warned",
    )


def test_configured_structlog_receives_named_events(tmp_path: Path) -> None:
    snippet = """
        import structlog, ssot_guard
        with structlog.testing.capture_logs() as logs:
            guard = ssot_guard.install()
            guard.violation("SSOT002", subject="x", message="m")
            with guard.severities({"SSOT003": "log", "SSOT004": "error"}):
                guard.violation("SSOT003", subject="x", message="m")
                guard.violation("SSOT004", subject="x", message="m")
            ssot_guard.uninstall()
        result["logs"] = [(e["event"], e["log_level"]) for e in logs]
        result["cycle"] = {k: v for k, v in logs[1].items() if k != "at_us"}
    """
    out = run(tmp_path, {}, snippet, unguarded=True)
    assert out.result["logs"] == [
        ["ssot_guard.installed", "info"],
        ["ssot_guard.import_cycle", "warning"],
        ["ssot_guard.double_import", "info"],
        ["ssot_guard.non_canonical_instance", "error"],
        ["ssot_guard.uninstalled", "info"],
    ]
    assert out.result["cycle"] == {
        "event": "ssot_guard.import_cycle",
        "log_level": "warning",
        "rule": "SSOT002",
        "name": "import-cycle",
        "severity": "warn",
        "subject": "x",
        "location": "<scenario>:5",
        "chain": [],
        "thread": "MainThread",
        "count": 1,
        "message": "m",
    }


def test_install_logger_argument_is_used(tmp_path: Path) -> None:
    snippet = """
        import sys, ssot_guard
        calls = []
        class Logger:
            def __getattr__(self, level):
                return lambda event, **fields: calls.append((level, event))
        guard = ssot_guard.install(logger=Logger())
        guard.violation("SSOT006", subject="old.name", message="m")
        ssot_guard.uninstall()
        result["calls"] = calls
    """
    out = run(tmp_path, {}, snippet, unguarded=True)
    assert out.result["calls"] == [
        ["info", "ssot_guard.installed"],
        ["warning", "ssot_guard.compat_shim_used"],
        ["info", "ssot_guard.uninstalled"],
    ]


def test_configure_logging_json_and_console(tmp_path: Path) -> None:
    program = """
        import sys, ssot_guard
        ssot_guard.configure_logging({arg})
        guard = ssot_guard.install()
        guard.violation("SSOT002", subject="prog", message="m")
        print("data")
    """
    outputs = {}
    for arg in ("", "json=True", "json=False"):
        folder = tmp_path / (arg.replace("=", "_") or "default")
        write_tree(folder, {"prog.py": program.format(arg=arg)})
        proc = subprocess.run(
            [sys.executable, "-W", "ignore", "prog.py"],
            cwd=folder,
            env=child_env({"NO_COLOR": "1"}),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "data\n"
        outputs[arg] = proc.stderr.splitlines()
    # Not a terminal: JSON lines, one per event.
    for arg in ("", "json=True"):
        events = [json.loads(line) for line in outputs[arg]]
        assert [(e["event"], e["level"]) for e in events] == [
            ("ssot_guard.installed", "info"),
            ("ssot_guard.import_cycle", "warning"),
        ]
        assert events[1]["location"] == "prog.py:4" and "timestamp" in events[1]
    console = outputs["json=False"]
    assert len(console) == 2 and "ssot_guard.import_cycle" in console[1]
    assert "warning" in console[1] and not console[1].startswith("{")


def test_internal_error_in_a_participant_disables_it_once(tmp_path: Path) -> None:
    files = {"m1.py": "X = 1\n", "m2.py": "import m1\nY = 2\n", "m3.py": "Z = 3\n"}
    snippet = """
        import json, logging
        messages = []
        class Keep(logging.Handler):
            def emit(self, record):
                messages.append(record.getMessage())
        logging.getLogger("ssot_guard").addHandler(Keep())
        participant = guard.participant("import-rules")
        calls = []
        def boom(frame, module):
            calls.append(frame.name)
            raise RuntimeError("synthetic bug")
        participant.before_exec = boom
        import m2, m3
        result["values"] = [m2.Y, m2.m1.X, m3.Z]
        result["calls"] = calls
        result["enabled"] = participant.enabled
        result["internal"] = {k: v.split(" at ")[0] for k, v in guard.internal_errors.items()}
        result["logged"] = [m.split(" ")[0] for m in messages]
        result["logged_feature"] = [json.loads(m.split(" ", 1)[1])["feature"] for m in messages]
    """
    out = run(tmp_path, files, snippet)
    assert out.error is None, out.error
    assert out.result == {
        "values": [2, 1, 3],
        "calls": ["m2"],
        "enabled": False,
        "internal": {"import-rules": "RuntimeError"},
        "logged": ["ssot_guard.internal_error"],
        "logged_feature": ["import-rules"],
    }
    assert [r["name"] for r in out.imports] == ["m2", "m1", "m3"]
    assert out.report is not None
    assert out.report["summary"]["internal_errors"]["import-rules"].startswith("RuntimeError at ")


def test_internal_error_in_the_recorder_disables_recording_not_imports(tmp_path: Path) -> None:
    files = {"m1.py": "X = 1\n", "m2.py": "import m1\nY = 2\n", "m3.py": "Z = 3\n"}
    snippet = """
        import m1
        def broken(origin):
            raise KeyError("synthetic")
        guard.scope.path_is_first_party = broken
        import m2, m3
        result["values"] = [m2.Y, m3.Z]
        result["internal"] = sorted(guard.internal_errors)
        result["loader"] = type(m3.__loader__).__name__
    """
    out = run(tmp_path, files, snippet)
    assert out.result == {"values": [2, 3], "internal": ["finder"], "loader": "SourceFileLoader"}
    assert [r["name"] for r in out.imports] == ["m1"]


def test_internal_error_inside_find_spec_is_logged_outside_the_import_lock(tmp_path: Path) -> None:
    files = {"m1.py": "X = 1\n", "m2.py": "Y = 2\n"}
    snippet = """
        import _imp, logging
        import ssot_guard._hook as hook
        seen = []
        class Keep(logging.Handler):
            def emit(self, record):
                seen.append((record.getMessage().split(" ")[0], _imp.lock_held(),
                             len(guard._state.stack)))
        logging.getLogger("ssot_guard").addHandler(Keep())
        def broken(*args):
            raise RuntimeError("synthetic")
        hook.LoaderProxy = broken
        import m1, m2
        result["values"] = [m1.X, m2.Y]
        result["before_report"] = list(seen)
        guard.report()  # the first point outside any import: the error is logged there
        result["seen"] = seen
        result["internal"] = sorted(guard.internal_errors)
    """
    out = run(tmp_path, files, snippet)
    assert out.error is None, out.error
    assert out.result == {
        "values": [1, 2],
        "before_report": [],
        "seen": [["ssot_guard.internal_error", False, 0]],
        "internal": ["finder"],
    }
