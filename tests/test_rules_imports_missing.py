"""SSOT009 missing-import: ``from M import X`` where first-party M is loaded and lacks X.

On 3.12+ the guard sees every failed ``IMPORT_FROM`` through ``sys.monitoring`` (swallowed
or not, at no cost on success paths); on 3.11 it sees misses that propagate out of a module
body, and swallowed ones only with ``deep = true``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from scenario import Outcome, run, run_both

MONITORING = sys.version_info >= (3, 12)

TREE = {
    "app/__init__.py": "",
    "app/db/__init__.py": "",
    "app/db/session.py": "def get_session():\n    return 'session'\n",
    "app/db/engine.py": "def get_db_session_factory():\n    return 'factory'\n",
    "app/ws.py": """
        def connect():
            try:
                from app.db.session import get_db_session_factory
                return get_db_session_factory()
            except Exception as exc:  # every failure reads as "the database is down"
                return "database down: " + type(exc).__name__
    """,
    "app/health.py": "from app.db.session import get_db_session_factory\n",
    "app/typo.py": "from app.db.session import get_sesion\n",
    "app/nowhere.py": "from app.db.session import nothing_like_this\n",
    "app/probes.py": """
        import json
        import app.db.session as session
        PROBES = [hasattr(session, "gone"), getattr(session, "gone", None)]
        try:
            from json import no_such_name
        except ImportError:
            PROBES.append("stdlib miss")
    """,
}

MOVED = (
    "'get_db_session_factory' is not defined in app.db.session; app.db.engine defines it "
    "(from app.db.engine import get_db_session_factory)"
)


def only(outcome: Outcome, rule: str) -> dict[str, Any]:
    events = outcome.events_for(rule)
    assert len(events) == 1, outcome.events
    return events[0]


def test_swallowed_missing_import_inside_a_function(tmp_path: Path) -> None:
    snippet = """
        import app.db.engine, app.ws
        result["r"] = [app.ws.connect(), app.ws.connect()]
    """
    plain, guarded = run_both(tmp_path, TREE, snippet)
    assert plain.result == guarded.result == {"r": ["database down: ImportError"] * 2}
    if not MONITORING:
        assert guarded.events == []  # 3.11 without deep: no free hook sees swallowed misses
        return
    event = only(guarded, "SSOT009")
    assert event["subject"] == "app.db.session"
    assert event["attribute"] == "get_db_session_factory"
    assert event["suggestion"] == "app.db.engine.get_db_session_factory"
    assert event["location"] == "app/ws.py:3"
    assert event["count"] == 2
    assert event["message"] == MOVED
    [warning] = guarded.warnings
    assert warning["category"] == "ImportRuleWarning"
    assert warning["message"] == "SSOT009 missing-import: " + MOVED
    assert (warning["filename"], warning["lineno"]) == (str(tmp_path / "guarded/app/ws.py"), 3)


def test_deep_mode_sees_swallowed_misses_on_every_version(tmp_path: Path) -> None:
    snippet = """
        import types
        import app.db.engine, app.ws, app.db.session
        result["r"] = app.ws.connect()
        result["hit"] = app.db.session.get_session()
        result["hook"] = "__getattr__" in vars(app.db.session)
        try:
            app.db.session.gone
        except AttributeError as exc:
            result["message"] = str(exc)
        import ssot_guard
        events = guard.report()["events"]
        ssot_guard.uninstall()
        result["events"] = [(e["rule"], e["location"], e["suggestion"]) for e in events]
        result["plain_after_uninstall"] = type(app.db.session) is types.ModuleType
        result["hook_after_uninstall"] = "__getattr__" in vars(app.db.session)
    """
    out = run(tmp_path, TREE, snippet, guard={"deep": True})
    assert out.error is None, out.error
    assert out.result == {
        "r": "database down: ImportError",
        "hit": "session",
        "events": [["SSOT009", "app/ws.py:3", "app.db.engine.get_db_session_factory"]],
        "plain_after_uninstall": True,
        # 3.11 needs a PEP 562 hook on first-party modules; 3.12+ uses sys.monitoring.
        "hook": not MONITORING,
        "message": "module 'app.db.session' has no attribute 'gone'",
        "hook_after_uninstall": False,
    }


def test_unswallowed_missing_import_keeps_error_and_adds_note(tmp_path: Path) -> None:
    snippet = """
        import traceback
        import app.db.engine
        try:
            import app.health
        except ImportError as exc:
            result["lines"] = traceback.format_exception(exc)
            result["notes"] = list(getattr(exc, "__notes__", []))
            result["type"] = type(exc).__name__
    """
    plain, guarded = run_both(tmp_path, TREE, snippet)
    note = "missing import: " + MOVED
    assert plain.result["notes"] == []
    assert guarded.result["notes"] == [note]
    assert plain.result["type"] == guarded.result["type"] == "ImportError"
    plain_tb = "".join(plain.result["lines"]).replace(str(tmp_path / "plain"), "<root>")
    guarded_tb = "".join(guarded.result["lines"]).replace(str(tmp_path / "guarded"), "<root>")
    assert guarded_tb == plain_tb + note + "\n"
    event = only(guarded, "SSOT009")
    assert (event["location"], event["count"]) == ("app/health.py:1", 1)


def test_close_match_and_no_suggestion(tmp_path: Path) -> None:
    snippet = """
        for name in ("app.typo", "app.nowhere"):
            try:
                __import__(name)
            except ImportError as exc:
                result[name] = exc.__notes__
    """
    out = run(tmp_path, TREE, snippet)
    assert out.result == {
        "app.typo": [
            "missing import: 'get_sesion' is not defined in app.db.session; "
            "did you mean 'get_session'?"
        ],
        "app.nowhere": [
            "missing import: 'nothing_like_this' is not defined in app.db.session, "
            "nor in any loaded first-party module"
        ],
    }
    events = out.events_for("SSOT009")
    assert [(e["location"], e["suggestion"]) for e in events] == [
        ("app/typo.py:1", "app.db.session.get_session"),
        ("app/nowhere.py:1", None),
    ]


def test_probes_and_third_party_misses_are_not_violations(tmp_path: Path) -> None:
    plain, guarded = run_both(tmp_path, TREE, "import app.probes\nresult['p'] = app.probes.PROBES")
    assert plain.result == guarded.result == {"p": [False, None, "stdlib miss"]}
    assert guarded.events == []


def test_missing_submodule_of_a_package(tmp_path: Path) -> None:
    files = {**TREE, "app/sub.py": "from app.db import removed_module\n"}
    out = run(tmp_path, files, "import app.sub")
    assert out.error is not None and out.error["type"] == "ImportError"
    event = only(out, "SSOT009")
    assert (event["subject"], event["attribute"], event["location"]) == (
        "app.db",
        "removed_module",
        "app/sub.py:1",
    )


@pytest.mark.parametrize("deep", [False, True])
def test_strict_mode(tmp_path: Path, deep: bool) -> None:
    snippet = """
        import app.db.engine
        import app.health
    """
    out = run(tmp_path, TREE, snippet, guard={"mode": "strict", "deep": deep})
    assert out.error is not None
    event = only(out, "SSOT009")
    assert event["severity"] == "error"
    if MONITORING or deep:
        # Raised at the statement, naming where the name lives now.
        assert out.error["type"] == "GuardImportError"
        assert "ImportError" in out.error["mro"]
        assert out.error["message"] == (
            "cannot import name 'get_db_session_factory' from 'app.db.session': " + MOVED
        )
    else:
        # 3.11 without deep: seen when CPython's error leaves the module body; recorded
        # at error severity (the run fails at its end) with the note on CPython's error.
        assert out.error["type"] == "ImportError"
        assert out.error["notes"] == ["missing import: " + MOVED]


def test_strict_swallowed_inside_function_still_fails_the_run(tmp_path: Path) -> None:
    snippet = """
        import app.db.engine, app.ws
        result["r"] = app.ws.connect()
        result["failures"] = [e.rule for e in guard.failures()]
    """
    out = run(tmp_path, TREE, snippet, guard={"mode": "strict"})
    if MONITORING:
        # The guard's ImportError subclass is still caught by the application's handler.
        assert out.result == {"r": "database down: GuardImportError", "failures": ["SSOT009"]}
    else:
        assert out.result == {"r": "database down: ImportError", "failures": []}


def test_deep_mode_next_to_a_compat_shim_on_the_same_module(tmp_path: Path) -> None:
    files = {
        **TREE,
        "app/user.py": """
            def f():
                try:
                    from app.db.session import removed
                except ImportError:
                    return "swallowed"
        """,
    }
    snippet = """
        import app.db.session, app.user
        from app.db.session import old
        result["r"] = [app.user.f(), old()]
    """
    shims = {"app.db.session.old": "app.db.engine.get_db_session_factory"}
    out = run(tmp_path, files, snippet, guard={"deep": True, "shims": shims})
    assert out.result == {"r": ["swallowed", "factory"]}
    assert [(e["rule"], e["location"]) for e in out.events] == [
        ("SSOT006", "<scenario>:3"),
        ("SSOT009", "app/user.py:3"),
    ]
