"""Compat shims, SSOT006 (SPEC §1, §2, §4): every scenario in a fresh interpreter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scenario import Outcome, run, run_both

OLD = "app.db.session.get_db_session_factory"
NEW = "app.db.database_manager.get_database_manager"
SHIMS: dict[str, Any] = {OLD: NEW}
EVENT_TEXT = f"'{OLD}' was used through a compat shim; use '{NEW}' instead"
DEPRECATED = f"{OLD} is deprecated: use {NEW} instead"

FILES = {
    "app/__init__.py": "",
    "app/db/__init__.py": "",
    "app/db/session.py": """
        def make_session():
            return "session"
    """,
    "app/db/database_manager.py": """
        class DatabaseManager:
            def __init__(self, dsn="sqlite://"):
                self.dsn = dsn


        def get_database_manager(password=None):
            return "manager"
    """,
    "app/ws.py": """
        def health(password=None):
            try:
                from app.db.session import get_db_session_factory
            except Exception:
                return "database down"
            return get_db_session_factory(password)
    """,
}


def shim_events(out: Outcome) -> list[dict[str, Any]]:
    return out.events_for("SSOT006")


def brief(event: dict[str, Any]) -> tuple[str, str, str, int]:
    return (event["subject"], event["location"], event["severity"], event["count"])


# ---------------------------------------------------------------------- warn mode


def test_function_local_import_is_served_lazily_and_reported_once_per_line(
    tmp_path: Path,
) -> None:
    snippet = """
        import sys
        import app.db.session, app.ws
        result["loaded_before"] = "app.db.database_manager" in sys.modules
        result["replies"] = [app.ws.health("hunter2") for _ in range(3)]
        result["loaded_after"] = "app.db.database_manager" in sys.modules
    """
    plain, guarded = run_both(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert plain.result["replies"] == ["database down"] * 3
    assert guarded.result == {
        "loaded_before": False,
        "replies": ["manager"] * 3,
        "loaded_after": True,
    }
    # Served names are no missing imports (SSOT009) and nothing else fires.
    assert guarded.rules() == ["SSOT006"]
    [event] = shim_events(guarded)
    assert brief(event) == (OLD, "app/ws.py:3", "warn", 3)
    assert event["replacement"] == NEW
    assert event["message"] == EVENT_TEXT
    assert (event["until"], event["expired"]) == (None, False)
    [warning] = guarded.warnings
    assert warning["category"] == "CompatShimWarning"
    assert warning["message"] == f"SSOT006 compat-shim-used: {EVENT_TEXT}"
    assert (warning["filename"], warning["lineno"]) == (str(tmp_path / "guarded/app/ws.py"), 3)
    # No argument value reaches any output.
    for text in (guarded.stdout, guarded.stderr, json.dumps(guarded.report)):
        assert "hunter2" not in text


def test_attribute_reads_and_getattr_are_reported_at_each_line(tmp_path: Path) -> None:
    snippet = """
        import app.db.session as m
        first = m.get_db_session_factory
        second = getattr(m, "get_db_session_factory")
        third = m.get_db_session_factory
        import app.db.database_manager as dm
        result["same"] = first is second is third
        result["wrapped"] = first.__wrapped__ is dm.get_database_manager
        result["deprecated"] = first.__deprecated__
        result["replacement_untouched"] = hasattr(dm.get_database_manager, "__deprecated__")
        result["name"] = first.__name__
        result["call"] = first()
        result["has"] = hasattr(m, "get_db_session_factory")
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.error is None
    assert out.result == {
        "same": True,
        "wrapped": True,
        "deprecated": DEPRECATED,
        "replacement_untouched": False,
        "name": "get_database_manager",
        "call": "manager",
        "has": True,
    }
    assert [brief(e) for e in shim_events(out)] == [
        (OLD, "<scenario>:3", "warn", 1),
        (OLD, "<scenario>:4", "warn", 1),
        (OLD, "<scenario>:5", "warn", 1),
        (OLD, "<scenario>:13", "warn", 1),
    ]
    assert [(w["filename"], w["lineno"]) for w in out.warnings] == [
        ("<scenario>", 3),
        ("<scenario>", 4),
        ("<scenario>", 5),
        ("<scenario>", 13),
    ]


def test_module_loaded_before_install_gets_the_shim(tmp_path: Path) -> None:
    snippet = """
        import sys, ssot_guard
        import app.db.session as m
        guard = ssot_guard.install(shims={"OLD": "NEW"})
        from app.db.session import get_db_session_factory
        result["value"] = get_db_session_factory()
        result["events"] = [(e.subject, e.location, e.count) for e in guard.events]
    """.replace("OLD", OLD).replace("NEW", NEW)
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert out.error is None
    assert out.result == {"value": "manager", "events": [[OLD, "<scenario>:5", 1]]}


def test_from_import_of_a_package_counts_one_use_per_statement(tmp_path: Path) -> None:
    # ``from package import x`` first probes ``hasattr(package, x)`` in importlib's
    # ``_handle_fromlist``: that probe is not a use.
    shims = {"app.db.get_db_session_factory": NEW}
    snippet = """
        import sys
        for _ in range(2):
            from app.db import get_db_session_factory
        result["value"] = get_db_session_factory()
        result["probe"] = "app.db.get_db_session_factory" in sys.modules
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.error is None
    assert out.result == {"value": "manager", "probe": False}
    assert [brief(e) for e in shim_events(out)] == [
        ("app.db.get_db_session_factory", "<scenario>:4", "warn", 2)
    ]


def test_class_replacement_is_a_transparent_marked_proxy(tmp_path: Path) -> None:
    shims = {"app.db.session.LegacyManager": "app.db.database_manager.DatabaseManager"}
    snippet = """
        from app.db.session import LegacyManager
        from app.db.database_manager import DatabaseManager
        instance = LegacyManager("postgres://secret")
        class Sub(LegacyManager):
            pass
        result["type_is_real"] = type(instance) is DatabaseManager
        result["isinstance"] = isinstance(instance, LegacyManager)
        result["subclass"] = [issubclass(Sub, DatabaseManager), issubclass(Sub, LegacyManager)]
        result["deprecated"] = LegacyManager.__deprecated__
        result["class_untouched"] = "__deprecated__" in vars(DatabaseManager)
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.error is None
    assert out.result == {
        "type_is_real": True,
        "isinstance": True,
        "subclass": [True, True],
        "deprecated": "app.db.session.LegacyManager is deprecated: use "
        "app.db.database_manager.DatabaseManager instead",
        "class_untouched": False,
    }
    assert "secret" not in json.dumps(out.report) + out.stderr


def test_custom_message_reaches_event_error_and_marker(tmp_path: Path) -> None:
    shims = {OLD: {"replacement": NEW, "message": "see ADR-12"}}
    snippet = """
        from app.db.session import get_db_session_factory as f
        result["deprecated"] = f.__deprecated__
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.result["deprecated"] == f"{DEPRECATED} (see ADR-12)"
    [event] = shim_events(out)
    assert event["message"] == f"{EVENT_TEXT} (see ADR-12)"


# ---------------------------------------------------------------------- transparency

PROBE_SNIPPET = """
    import sys
    import app.db.session as m
    out = {}
    for name in ("__path__", "__wrapped__", "__all__", "nope", "__getstate__"):
        try:
            getattr(m, name)
            out[name] = "present"
        except AttributeError as exc:
            out[name] = [type(exc).__name__, str(exc), exc.name, exc.obj is m]
        out[name + "?"] = hasattr(m, name)
    try:
        from app.db.session import nope
    except ImportError as exc:
        out["from"] = [type(exc).__name__, str(exc).replace(m.__file__, "FILE"), exc.name]
    out["dir"] = [n for n in dir(m) if n != "__getattr__"]
    out["type"] = type(m).__name__
    out["star"] = sorted(n for n in vars(__import__("importlib").import_module("app.db.session"))
                         if not n.startswith("__"))
    result.update(out)
"""


def test_other_names_behave_exactly_as_before(tmp_path: Path) -> None:
    plain, guarded = run_both(tmp_path, FILES, PROBE_SNIPPET, guard={"shims": SHIMS})
    assert plain.error is None and guarded.error is None
    assert guarded.result == plain.result
    assert plain.result["nope"] == [
        "AttributeError",
        "module 'app.db.session' has no attribute 'nope'",
        "nope",
        True,
    ]
    assert shim_events(guarded) == []


def test_partial_module_messages_match_cpython(tmp_path: Path) -> None:
    snippet = """
        import sys, types, ssot_guard
        from importlib.machinery import ModuleSpec
        for name in ("plainmod", "shimmed"):
            module = types.ModuleType(name)
            module.__spec__ = ModuleSpec(name, None, is_package=True)
            sys.modules[name] = module
        ssot_guard.install(shims={"shimmed.old": "json.dumps"})
        for state in ("initializing", "submodule", "complete"):
            for name in ("plainmod", "shimmed"):
                spec = sys.modules[name].__spec__
                spec._initializing = state == "initializing"
                spec._uninitialized_submodules = ["sub"] if state == "submodule" else []
                try:
                    getattr(sys.modules[name], "sub")
                except AttributeError as exc:
                    result[state + ":" + name] = str(exc).replace(name, "M")
        result["hooked"] = "__getattr__" in vars(sys.modules["shimmed"])
    """
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert out.error is None, out.error
    assert out.result.pop("hooked") is True
    for state in ("initializing", "submodule", "complete"):
        assert out.result[f"{state}:shimmed"] == out.result[f"{state}:plainmod"]
    assert out.result["initializing:shimmed"] == (
        "partially initialized module 'M' has no attribute 'sub' "
        "(most likely due to a circular import)"
    )
    assert out.result["complete:shimmed"] == "module 'M' has no attribute 'sub'"


OWN_GETATTR = {
    **FILES,
    "app/db/session.py": """
        import warnings


        def make_session():
            return "session"


        def __getattr__(name):
            if name == "legacy":
                warnings.warn("legacy is old", DeprecationWarning, stacklevel=2)
                return "legacy value"
            raise AttributeError(f"custom: no {name} here")
    """,
}


def test_module_with_its_own_getattr_keeps_it_for_other_names(tmp_path: Path) -> None:
    snippet = """
        import app.db.session as m
        result["legacy"] = m.legacy
        try:
            m.other
        except AttributeError as exc:
            result["other"] = str(exc)
        result["path"] = hasattr(m, "__path__")
        try:
            from app.db.session import get_db_session_factory
            result["old"] = get_db_session_factory()
        except ImportError as exc:
            result["old"] = type(exc).__name__
    """
    plain, guarded = run_both(tmp_path, OWN_GETATTR, snippet, guard={"shims": SHIMS})
    assert plain.result == {
        "legacy": "legacy value",
        "other": "custom: no other here",
        "path": False,
        "old": "ImportError",
    }
    assert guarded.result == {**plain.result, "old": "manager"}
    # The module's own stacklevel=2 warning still points at the user's line.
    plain_warnings = [(w["message"], w["filename"], w["lineno"]) for w in plain.warnings]
    assert plain_warnings == [("legacy is old", "<scenario>", 3)]
    assert [
        (w["message"], w["filename"], w["lineno"])
        for w in guarded.warnings
        if w["category"] == "DeprecationWarning"
    ] == plain_warnings
    assert [brief(e) for e in shim_events(guarded)] == [(OLD, "<scenario>:10", "warn", 1)]


def test_module_defining_the_name_is_left_alone(tmp_path: Path) -> None:
    files = {
        **FILES,
        "app/db/session.py": """
            def get_db_session_factory():
                return "own"
        """,
    }
    snippet = """
        import app.db.session as m
        from app.db.session import get_db_session_factory
        result["value"] = get_db_session_factory()
        result["hooked"] = "__getattr__" in vars(m)
    """
    out = run(tmp_path, files, snippet, guard={"shims": SHIMS})
    assert out.result == {"value": "own", "hooked": False}
    assert shim_events(out) == []
    assert out.report is not None
    assert out.report["summary"]["shims"] == {OLD: {"replacement": NEW, "status": "defined"}}


def test_report_summary_lists_shim_status(tmp_path: Path) -> None:
    shims = {**SHIMS, "app.other.gone": "app.db.session.make_session"}
    out = run(tmp_path, FILES, "import app.db.session", guard={"shims": shims})
    assert out.report is not None
    assert out.report["summary"]["shims"] == {
        OLD: {"replacement": NEW, "status": "active"},
        "app.other.gone": {"replacement": "app.db.session.make_session", "status": "pending"},
    }


# ---------------------------------------------------------------------- strict and until

ERRORS_SNIPPET = """
    import sys
    import app.db.session as m
    try:
        from app.db.session import get_db_session_factory
    except ImportError as exc:
        result["from"] = [type(exc).__name__, str(exc), exc.name]
    try:
        m.get_db_session_factory
    except AttributeError as exc:
        result["attr"] = [type(exc).__name__, str(exc), exc.name]
    result["has"] = hasattr(m, "get_db_session_factory")
    result["resolved"] = "app.db.database_manager" in sys.modules
"""


def test_strict_mode_raises_naming_the_replacement(tmp_path: Path) -> None:
    out = run(tmp_path, FILES, ERRORS_SNIPPET, guard={"mode": "strict", "shims": SHIMS})
    why = "it was removed (SSOT006 compat-shim-used is an error in this mode)"
    assert out.result == {
        "from": [
            "GuardImportError",
            f"cannot import name 'get_db_session_factory' from 'app.db.session': "
            f"{why}; use '{NEW}' instead",
            "app.db.session",
        ],
        "attr": [
            "GuardAttributeError",
            f"module 'app.db.session' has no attribute 'get_db_session_factory': "
            f"{why}; use '{NEW}' instead",
            "get_db_session_factory",
        ],
        "has": False,
        "resolved": False,  # raised before any side effect: nothing imported
    }
    assert out.rules() == ["SSOT006"] * 3  # the guard's own error is no SSOT009
    assert [brief(e) for e in shim_events(out)] == [
        (OLD, "<scenario>:5", "error", 1),
        (OLD, "<scenario>:9", "error", 1),
        (OLD, "<scenario>:12", "error", 1),
    ]


def test_strict_tracebacks_end_at_the_users_statement(tmp_path: Path) -> None:
    snippet = """
        import traceback
        for stmt in ("from app.db.session import get_db_session_factory", "import app.database"):
            try:
                exec(compile(stmt, "<user>", "exec"), {})
            except ImportError as exc:
                result[stmt] = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    """
    shims = {**SHIMS, **ALIAS}
    out = run(tmp_path, FILES, snippet, guard={"mode": "strict", "shims": shims})
    assert out.result == {
        "from app.db.session import get_db_session_factory": [
            "<scenario>",
            "<user>",
            "<ssot_guard compat shim (importlib._bootstrap-transparent)>",
        ],
        "import app.database": ["<scenario>", "<user>"],
    }


def test_rule_override_log_serves_without_warning(tmp_path: Path) -> None:
    snippet = "from app.db.session import get_db_session_factory as f\nresult['v'] = f()"
    out = run(
        tmp_path,
        FILES,
        snippet,
        guard={"mode": "strict", "rules": {"compat-shim-used": "log"}, "shims": SHIMS},
    )
    assert out.result == {"v": "manager"}
    assert [brief(e) for e in shim_events(out)] == [(OLD, "<scenario>:1", "log", 1)]
    assert out.warnings == []


def test_rule_off_serves_silently(tmp_path: Path) -> None:
    snippet = "from app.db.session import get_db_session_factory as f\nresult['v'] = f()"
    out = run(
        tmp_path, FILES, snippet, guard={"rules": {"compat-shim-used": "off"}, "shims": SHIMS}
    )
    assert out.result == {"v": "manager"}
    assert out.events == [] and out.warnings == []


def test_expired_shim_raises_in_warn_mode(tmp_path: Path) -> None:
    shims = {OLD: {"replacement": NEW, "until": "2001-02-03"}}
    out = run(tmp_path, FILES, ERRORS_SNIPPET, guard={"shims": shims})
    why = "its compat shim expired after 2001-02-03"
    assert out.result["from"] == [
        "GuardImportError",
        f"cannot import name 'get_db_session_factory' from 'app.db.session': "
        f"{why}; use '{NEW}' instead",
        "app.db.session",
    ]
    assert out.result["attr"][:2] == [
        "GuardAttributeError",
        f"module 'app.db.session' has no attribute 'get_db_session_factory': "
        f"{why}; use '{NEW}' instead",
    ]
    assert (out.result["has"], out.result["resolved"]) == (False, False)
    [first, *_] = shim_events(out)
    assert (first["severity"], first["until"], first["expired"]) == ("warn", "2001-02-03", True)
    assert out.report is not None
    assert out.report["summary"]["shims"][OLD]["status"] == "expired"


def test_shim_before_its_until_date_works(tmp_path: Path) -> None:
    shims = {OLD: {"replacement": NEW, "until": "2999-12-31"}}
    snippet = "from app.db.session import get_db_session_factory as f\nresult['v'] = f()"
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.result == {"v": "manager"}
    [event] = shim_events(out)
    assert (event["until"], event["expired"]) == ("2999-12-31", False)


def test_warnings_as_errors_raise_at_the_read(tmp_path: Path) -> None:
    snippet = """
        import warnings, ssot_guard
        warnings.simplefilter("error", ssot_guard.CompatShimWarning)
        try:
            from app.db.session import get_db_session_factory
        except DeprecationWarning as exc:
            result["error"] = type(exc).__name__
        from app.db.session import get_db_session_factory as again  # line 8: new site
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.result == {"error": "CompatShimWarning"}
    assert out.error is not None and out.error["type"] == "CompatShimWarning"
    assert [brief(e) for e in shim_events(out)] == [
        (OLD, "<scenario>:5", "warn", 1),
        (OLD, "<scenario>:8", "warn", 1),
    ]


def test_internal_error_while_reporting_keeps_serving(tmp_path: Path) -> None:
    snippet = """
        import sys
        participant = guard.participant("compat-shims")
        def broken(*args, **kwargs):
            raise RuntimeError("bug")
        participant._record_site = broken
        from app.db.session import get_db_session_factory as first
        from app.db.session import get_db_session_factory as second
        result["values"] = [first(), second()]
        result["internal"] = guard.internal_errors
        result["enabled"] = participant.enabled
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.error is None, out.error
    assert out.result["values"] == ["manager", "manager"]
    assert list(out.result["internal"]) == ["compat-shims"]
    assert out.result["enabled"] is False
    assert shim_events(out) == []


# ---------------------------------------------------------------------- resolution


def test_unresolvable_replacement_names_both(tmp_path: Path) -> None:
    shims = {OLD: "app.db.nowhere.get_database_manager"}
    snippet = """
        try:
            from app.db.session import get_db_session_factory
        except ImportError as exc:
            result["error"] = [type(exc).__name__, str(exc), type(exc.__cause__).__name__]
        import app.db.session as m
        try:
            m.get_db_session_factory
        except ImportError as exc:
            result["attr"] = type(exc).__name__
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.result == {
        "error": [
            "GuardImportError",
            f"compat shim '{OLD}' cannot resolve its replacement "
            "'app.db.nowhere.get_database_manager' (ModuleNotFoundError)",
            "ModuleNotFoundError",
        ],
        "attr": "GuardImportError",
    }


def test_replacement_that_is_another_shim_cycle_fails_cleanly(tmp_path: Path) -> None:
    shims = {OLD: "app.db.session.other", "app.db.session.other": OLD}
    snippet = """
        try:
            from app.db.session import get_db_session_factory
        except ImportError as exc:
            result["error"] = [type(exc).__name__, str(exc)]
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": shims})
    assert out.result["error"][0] == "GuardImportError"
    assert out.result["error"][1].startswith(f"compat shim '{OLD}' cannot resolve")


# ---------------------------------------------------------------------- module paths

ALIAS = {"app.database": "app.db"}


def test_old_module_path_imports_the_replacement_module(tmp_path: Path) -> None:
    snippet = """
        import sys
        import app
        result["before"] = "app.db" in sys.modules
        import app.database
        result["same"] = app.database is sys.modules["app.db"]
        result["entry"] = sys.modules["app.database"] is sys.modules["app.db"]
        import app.database as again
        result["again"] = again is app.database
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": ALIAS})
    assert out.error is None
    assert out.result == {"before": False, "same": True, "entry": True, "again": True}
    # The second import statement is served from sys.modules by CPython: no finder sees it.
    assert [brief(e) for e in shim_events(out)] == [("app.database", "<scenario>:5", "warn", 1)]
    assert out.record("app.database")["origin"] == "compat shim -> app.db"


def test_old_module_path_as_from_import_of_the_parent(tmp_path: Path) -> None:
    snippet = """
        import sys
        from app import database
        result["same"] = database is sys.modules["app.db"]
        result["entry"] = "app.database" in sys.modules
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": ALIAS})
    assert out.result == {"same": True, "entry": False}
    assert [brief(e) for e in shim_events(out)] == [("app.database", "<scenario>:3", "warn", 1)]


def test_old_module_path_without_the_private_importlib_abc(tmp_path: Path) -> None:
    # The alias loader's base comes from ``importlib._abc``; a Python that moved it must
    # still get a working shim through the public ``importlib.abc``.
    site = {
        "site/sitecustomize.py": """
            import importlib.abc, importlib.util, sys
            sys.modules["importlib._abc"] = None
        """,
    }
    snippet = """
        import importlib.abc, sys
        import app.database
        loader = sys.modules["app.database"].__spec__.loader
        result["alias"] = [app.database is sys.modules["app.db"],
                           isinstance(loader, importlib.abc.Loader),
                           sys.modules["importlib._abc"] is None]
    """
    env = {"PYTHONPATH": str(tmp_path / "site")}
    out = run(tmp_path, {**FILES, **site}, snippet, guard={"shims": ALIAS}, env=env)
    assert out.error is None
    assert out.result == {"alias": [True, True, True]}
    assert [brief(e) for e in shim_events(out)] == [("app.database", "<scenario>:3", "warn", 1)]


def test_existing_old_module_is_not_aliased(tmp_path: Path) -> None:
    files = {**FILES, "app/database.py": "REAL = True\n"}
    snippet = """
        from app import database
        import app.database as again
        result["real"] = [database.REAL, again is database]
    """
    out = run(tmp_path, files, snippet, guard={"shims": ALIAS})
    assert out.result == {"real": [True, True]}
    assert shim_events(out) == []


def test_old_module_path_in_strict_mode(tmp_path: Path) -> None:
    snippet = """
        import sys
        try:
            import app.database
        except ImportError as exc:
            result["error"] = [type(exc).__name__, str(exc), exc.name]
        result["modules"] = ["app.database" in sys.modules, "app.db" in sys.modules]
    """
    out = run(tmp_path, FILES, snippet, guard={"mode": "strict", "shims": ALIAS})
    assert out.result == {
        "error": [
            "GuardImportError",
            "No module named 'app.database': it was removed (SSOT006 compat-shim-used is an "
            "error in this mode); use 'app.db' instead",
            "app.database",
        ],
        "modules": [False, False],
    }
    assert [brief(e) for e in shim_events(out)] == [("app.database", "<scenario>:4", "error", 1)]


# ---------------------------------------------------------------------- uninstall


def test_uninstall_removes_every_shim(tmp_path: Path) -> None:
    files = {**OWN_GETATTR, "app/other.py": "X = 1\n"}
    shims = {**SHIMS, "app.other.Y": "app.other.X", **ALIAS}
    snippet = """
        import sys, ssot_guard
        import app.db.session as m, app.other as o
        import app.database
        result["hooked"] = [vars(m)["__getattr__"].__module__, "__getattr__" in vars(o)]
        ssot_guard.uninstall()
        result["restored"] = [vars(m)["__getattr__"].__module__, "__getattr__" in vars(o)]
        result["alias"] = ["app.database" in sys.modules, hasattr(sys.modules["app"], "database")]
        for stmt in ("from app.db.session import get_db_session_factory",
                     "from app.other import Y", "import app.database"):
            try:
                exec(stmt, {})
                result[stmt] = "ok"
            except ImportError as exc:
                result[stmt] = type(exc).__name__
        guard2 = ssot_guard.install(shims=SHIMS)
        from app.other import Y
        result["again"] = [Y, [e.location for e in guard2.events]]
    """.replace("SHIMS", repr(shims))
    out = run(tmp_path, files, snippet, guard={"shims": shims})
    assert out.error is None, out.error
    assert out.result == {
        "hooked": ["ssot_guard.rules.shims", True],
        "restored": ["app.db.session", False],
        "alias": [False, False],
        "from app.db.session import get_db_session_factory": "ImportError",
        "from app.other import Y": "ImportError",
        "import app.database": "ModuleNotFoundError",
        "again": [1, ["<scenario>:17"]],
    }


def test_reimported_module_objects_are_all_shimmed_and_restored(tmp_path: Path) -> None:
    snippet = """
        import sys, ssot_guard
        import app.db.session as first
        del sys.modules["app.db.session"]
        import app.db.session as second
        result["distinct"] = first is not second
        result["served"] = [first.get_db_session_factory(), second.get_db_session_factory()]
        ssot_guard.uninstall()
        result["restored"] = ["__getattr__" in vars(first), "__getattr__" in vars(second)]
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.error is None, out.error
    assert out.result == {
        "distinct": True,
        "served": ["manager", "manager"],
        "restored": [False, False],
    }


# ---------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("shims", "expected"),
    [
        ({"nodots": "app.x"}, "expected 'module.name', got a bare name"),
        ({"app.x": "not a name"}, "replacement"),
        ({"app.x": {"replacement": "app.y", "until": "soon"}}, "until"),
        ({"app.x": {"replacment": "app.y"}}, "did you mean"),
    ],
)
def test_malformed_shims_are_config_errors(
    tmp_path: Path, shims: dict[str, Any], expected: str
) -> None:
    snippet = """
        import ssot_guard
        try:
            ssot_guard.install(shims=SHIMS)
        except ssot_guard.ConfigError as exc:
            result["error"] = str(exc)
    """.replace("SHIMS", repr(shims))
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert expected in out.result["error"]
    assert "shims" in out.result["error"]


def test_pyproject_shims_table(tmp_path: Path) -> None:
    files = {
        **FILES,
        "pyproject.toml": f"""
            [tool.ssot_guard.shims]
            "{OLD}" = {{ replacement = "{NEW}", until = 2999-01-01 }}
            "app.database" = "app.db"
        """,
    }
    snippet = """
        from app.db.session import get_db_session_factory as f
        import app.database
        result["v"] = f()
    """
    (tmp_path / ".git").mkdir(parents=True)
    out = run(tmp_path, files, snippet)
    assert out.error is None, out.error
    assert [brief(e) for e in shim_events(out)] == [
        (OLD, "<scenario>:2", "warn", 1),
        ("app.database", "<scenario>:3", "warn", 1),
    ]
    assert shim_events(out)[0]["until"] == "2999-01-01"


# ---------------------------------------------------------------------- the handed-out object

WARNER = {
    **FILES,
    "app/db/warner.py": """
        import warnings


        def new(x=1):
            warnings.warn("inner", UserWarning, stacklevel=2)
            return x
    """,
}


@pytest.mark.parametrize("pure_python_wrapt", ["0", "1"])
def test_replacement_warnings_and_binding_see_through_the_proxy(
    tmp_path: Path, pure_python_wrapt: str
) -> None:
    snippet = """
        import inspect
        from app.db.session import old
        value = old(7)
        class Holder:
            method = old
        result["bound"] = Holder().method() is not None
        result["unbound"] = Holder.method(5)
        result["signature"] = str(inspect.signature(old))
        result["value"] = value
    """
    out = run(
        tmp_path,
        WARNER,
        snippet,
        guard={"shims": {"app.db.session.old": "app.db.warner.new"}},
        env={"WRAPT_DISABLE_EXTENSIONS": pure_python_wrapt},
    )
    assert out.error is None, out.error
    assert out.result == {"bound": True, "unbound": 5, "signature": "(x=1)", "value": 7}
    inner = [(w["filename"], w["lineno"]) for w in out.warnings if w["message"] == "inner"]
    assert inner == [("<scenario>", 4), ("<scenario>", 7), ("<scenario>", 8)]


def test_reload_of_the_old_module_keeps_the_shim(tmp_path: Path) -> None:
    snippet = """
        import importlib
        import app.db.session as m
        importlib.reload(m)
        result["hooked"] = vars(m)["__getattr__"].__module__
        result["value"] = m.get_db_session_factory()
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.error is None, out.error
    assert out.result == {"hooked": "ssot_guard.rules.shims", "value": "manager"}
    assert [brief(e) for e in shim_events(out)] == [(OLD, "<scenario>:6", "warn", 1)]


def test_concurrent_uses_are_all_counted(tmp_path: Path) -> None:
    snippet = """
        import threading
        import app.ws

        def work():
            for _ in range(200):
                app.ws.health()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    """
    out = run(tmp_path, FILES, snippet, guard={"shims": SHIMS})
    assert out.error is None, out.error
    assert [(e["subject"], e["location"], e["count"]) for e in shim_events(out)] == [
        (OLD, "app/ws.py:3", 800)
    ]


# ---------------------------------------------------------------------- type checkers

TYPED = {
    "app/__init__.py": "",
    "app/db/__init__.py": "",
    "app/db/database_manager.py": """
        class DatabaseManager: ...


        def get_database_manager() -> DatabaseManager:
            return DatabaseManager()
    """,
    "app/db/session.py": """
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from typing_extensions import deprecated

            from app.db.database_manager import DatabaseManager

            @deprecated("use app.db.database_manager.get_database_manager")
            def get_db_session_factory() -> DatabaseManager: ...


        def make_session() -> str:
            return "session"
    """,
    "app/api.py": """
        import app.db.session
        from app.db.session import get_db_session_factory


        def probe() -> object:
            return app.db.session.get_db_session_factory()
    """,
    "app/ws.py": """
        def health() -> object:
            from app.db.session import get_db_session_factory

            return get_db_session_factory()
    """,
}


def test_type_checking_declaration_is_struck_through_by_mypy(tmp_path: Path) -> None:
    import subprocess
    import sys

    from scenario import child_env, write_tree

    write_tree(tmp_path, TYPED)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--enable-error-code", "deprecated", "app"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    message = (
        "error: function app.db.session.get_db_session_factory is deprecated: "
        "use app.db.database_manager.get_database_manager  [deprecated]"
    )
    # mypy flags the module-level import and the attribute read. It does not flag the
    # function-local import in app/ws.py (the SPEC §0 case), which SSOT006 reports.
    assert proc.stdout.splitlines() == [
        f"app/api.py:2: {message}",
        f"app/api.py:6: {message}",
        "Found 2 errors in 1 file (checked 6 source files)",
    ], proc.stdout + proc.stderr
    # At run time the name is undefined (TYPE_CHECKING only), so the shim serves it.
    snippet = """
        import app.api, app.ws
        result["values"] = [type(app.api.probe()).__name__, type(app.ws.health()).__name__]
    """
    out = run(tmp_path / "runtime", TYPED, snippet, guard={"shims": SHIMS})
    assert out.result == {"values": ["DatabaseManager", "DatabaseManager"]}
    assert [brief(e)[:2] for e in shim_events(out)] == [
        (OLD, "app/api.py:2"),
        (OLD, "app/api.py:6"),
        (OLD, "app/ws.py:2"),
    ]
