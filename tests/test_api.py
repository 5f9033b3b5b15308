"""Public API: install/uninstall/active/installed, the report and its schema (SPEC §3.3, §6)."""

from __future__ import annotations

import json
from pathlib import Path

from scenario import run

import ssot_guard

RECORD_KEYS = {
    "seq", "name", "parent", "location", "origin", "thread", "depth", "start_us",
    "cumulative_us", "self_us", "outcome", "first_party", "reload",
}  # fmt: skip
EVENT_KEYS = {
    "rule", "name", "severity", "subject", "location", "chain", "thread", "count", "message",
}  # fmt: skip


def test_exports_and_exception_hierarchy() -> None:
    for name in ("install", "uninstall", "active", "installed", "configure_logging", "Guard",
                 "SSOTGuardError", "ConfigError", "SSOTGuardWarning", "RULES"):  # fmt: skip
        assert name in ssot_guard.__all__, name
        assert hasattr(ssot_guard, name)
    assert issubclass(ssot_guard.ConfigError, ssot_guard.SSOTGuardError)
    assert issubclass(ssot_guard.ConfigError, ValueError)
    assert issubclass(ssot_guard.GuardImportError, ImportError)
    assert issubclass(ssot_guard.GuardAttributeError, AttributeError)
    assert issubclass(ssot_guard.GuardTypeError, TypeError)
    assert not issubclass(ssot_guard.GuardImportError, AttributeError)
    assert issubclass(ssot_guard.ImportRuleWarning, RuntimeWarning)
    assert issubclass(ssot_guard.ClassRuleWarning, DeprecationWarning)
    assert issubclass(ssot_guard.CompatShimWarning, DeprecationWarning)
    for warning in (ssot_guard.ImportRuleWarning, ssot_guard.ClassRuleWarning,
                    ssot_guard.CompatShimWarning):  # fmt: skip
        assert issubclass(warning, ssot_guard.SSOTGuardWarning)
    assert [rule.code for rule in ssot_guard.RULES] == [f"SSOT00{i}" for i in range(1, 10)]
    assert "PYTEST_DONT_REWRITE" in (ssot_guard.__doc__ or "")


def test_install_is_idempotent_and_conflicts_raise(tmp_path: Path) -> None:
    snippet = """
        import ssot_guard
        result["same_no_args"] = ssot_guard.install() is guard
        result["same_equal"] = ssot_guard.install(mode="warn", packages=["app"]) is guard
        try:
            ssot_guard.install(mode="strict", packages=["app"])
        except ssot_guard.ConfigError as exc:
            result["conflict"] = str(exc)
        result["still_active"] = ssot_guard.active() is guard
    """
    out = run(tmp_path, {}, snippet, guard={"mode": "warn", "packages": ["app"]})
    assert out.result == {
        "same_no_args": True,
        "same_equal": True,
        "conflict": "install() argument: the guard is already installed with other settings "
        "(mode: 'warn' installed, 'strict' requested); call ssot_guard.uninstall() first",
        "still_active": True,
    }


def test_uninstall_restores_meta_path_and_leaves_no_proxy(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "X = 1\n",
        "lazy_one.py": "import sys\nsys.modules['__main__'].LAZY_RAN = True\n",
    }
    snippet = """
        import sys, importlib.util, runpy, __main__
        import ssot_guard
        from ssot_guard._hook import LoaderProxy
        before = [id(f) for f in sys.meta_path]
        run_code = runpy._run_code
        guard = ssot_guard.install()
        result["front"] = sys.meta_path[0] is guard.finder
        import pkg.a
        spec = importlib.util.find_spec("lazy_one")
        spec.loader = importlib.util.LazyLoader(spec.loader)
        lazy = importlib.util.module_from_spec(spec)
        sys.modules["lazy_one"] = lazy
        spec.loader.exec_module(lazy)
        __main__.LAZY_RAN = False
        ssot_guard.uninstall()
        result["meta_path_restored"] = [id(f) for f in sys.meta_path] == before
        result["runpy_restored"] = runpy._run_code is run_code
        result["active"] = ssot_guard.active()
        result["installed"] = guard.installed
        proxies = []
        for name, module in list(sys.modules.items()):
            d = object.__getattribute__(module, "__dict__") if isinstance(module, type(sys)) else {}
            if type(d.get("__loader__")) is LoaderProxy:
                proxies.append(name + ".__loader__")
            if type(getattr(d.get("__spec__"), "loader", None)) is LoaderProxy:
                proxies.append(name + ".__spec__.loader")
        result["proxies"] = proxies
        result["lazy_ran_before_touch"] = __main__.LAZY_RAN
        lazy_dict = object.__getattribute__(lazy, "__dict__")
        result["lazy_loader"] = type(lazy_dict["__loader__"]).__name__
        lazy.__name__  # loading still works, unguarded now
        result["lazy_ran"] = __main__.LAZY_RAN
        result["recorded_after"] = [r.name for r in guard.records if r.name == "lazy_one"]
    """
    out = run(tmp_path, files, snippet, unguarded=True)
    assert out.error is None, out.error
    assert out.result == {
        "front": True,
        "meta_path_restored": True,
        "runpy_restored": True,
        "active": None,
        "installed": False,
        "proxies": [],
        "lazy_ran_before_touch": False,
        "lazy_loader": "SourceFileLoader",
        "lazy_ran": True,
        "recorded_after": [],
    }


def test_install_uninstall_install_and_scoped_guards(tmp_path: Path) -> None:
    files = {"one.py": "", "two.py": "", "three.py": "", "four.py": ""}
    snippet = """
        import sys, ssot_guard
        before = list(sys.meta_path)
        first = ssot_guard.install()
        import one
        ssot_guard.uninstall()
        ssot_guard.uninstall()  # a no-op
        second = ssot_guard.install()
        import two
        ssot_guard.uninstall()
        result["distinct"] = first is not second
        result["first"] = [r.name for r in first.records]
        result["second"] = [r.name for r in second.records]
        with ssot_guard.installed(mode="strict") as third:
            result["third_active"] = ssot_guard.active() is third
            result["third_mode"] = third.mode
            import three
        result["after_installed"] = ssot_guard.active()
        with ssot_guard.install() as fourth:
            import four
            result["fourth_active"] = ssot_guard.active() is fourth
        result["after_install_cm"] = ssot_guard.active()
        result["third"] = [r.name for r in third.records]
        result["fourth"] = [r.name for r in fourth.records]
        result["meta_path_restored"] = sys.meta_path == before
    """
    out = run(tmp_path, files, snippet, unguarded=True)
    assert out.error is None, out.error
    assert out.result == {
        "distinct": True,
        "first": ["one"],
        "second": ["two"],
        "third_active": True,
        "third_mode": "strict",
        "after_installed": None,
        "fourth_active": True,
        "after_install_cm": None,
        "third": ["three"],
        "fourth": ["four"],
        "meta_path_restored": True,
    }


def test_mode_off_installs_nothing(tmp_path: Path) -> None:
    snippet = """
        import sys, runpy, ssot_guard
        before, run_code = list(sys.meta_path), runpy._run_code
        guard = ssot_guard.install(mode="off")
        import json
        result["meta_path"] = sys.meta_path == before
        result["runpy"] = runpy._run_code is run_code
        result["active"] = ssot_guard.active()
        result["installed"] = guard.installed
        result["records"] = len(guard.records)
        result["violation"] = guard.violation("SSOT002", subject="x", message="m")
        result["finder"] = guard.finder
        # The kill switch costs a config lookup, not the guard's machinery and dependencies.
        heavy = ("wrapt", "structlog", "asyncio", "ssot_guard._hook", "ssot_guard.rules")
        result["imported"] = [name for name in heavy if name in sys.modules]
        with guard as same:
            result["context"] = same is guard
    """
    out = run(tmp_path, {}, snippet, unguarded=True)
    assert out.result == {
        "meta_path": True,
        "runpy": True,
        "active": None,
        "installed": False,
        "records": 0,
        "violation": None,
        "finder": None,
        "imported": [],
        "context": True,
    }
    env = run(tmp_path / "env", {}, snippet.replace('mode="off"', ""), unguarded=True,
              env={"SSOT_GUARD_MODE": "off"})  # fmt: skip
    assert env.result == out.result


def test_report_schema_and_field_names(tmp_path: Path) -> None:
    files = {"app/__init__.py": "from app import core\n", "app/core.py": "X = 1\n"}
    snippet = """
        import json, app
        for _ in range(2):
            guard.violation("SSOT002", subject="app.core", message="synthetic")
        report = guard.report()
        result["dumps"] = len(json.dumps(report)) > 0
    """
    out = run(tmp_path, files, snippet, guard={"packages": ["app"]})
    report = out.report
    assert report is not None
    assert set(report) == {"schema", "config", "python", "preloaded", "imports", "events",
                           "summary"}  # fmt: skip
    assert report["schema"] == "ssot_guard.report/1"
    assert report["config"]["packages"] == ["app"]
    assert report["config"]["mode"] == "warn"
    assert set(report["config"]["rules"]) == {f"SSOT00{i}" for i in range(1, 10)}
    assert {"version", "implementation", "executable"} <= set(report["python"])
    assert "sys" in report["preloaded"] and "ssot_guard" in report["preloaded"]
    for record in report["imports"]:
        assert set(record) == RECORD_KEYS
    core = out.record("app.core")
    assert (core["parent"], core["location"], core["first_party"]) == ("app", "app/__init__.py:1",
                                                                       True)  # fmt: skip
    (event,) = out.events
    assert EVENT_KEYS <= set(event)
    assert set(event) - EVENT_KEYS <= {"at_us"}
    assert (event["rule"], event["name"], event["count"], event["location"]) == (
        "SSOT002",
        "import-cycle",
        2,
        "<scenario>:4",
    )
    assert event["chain"] == [] and event["severity"] == "warn"
    assert report["summary"]["by_rule"] == {"SSOT002": 2}
    assert report["summary"]["events"] == 1 and report["summary"]["occurrences"] == 2
    assert report["summary"]["imports"] == len(report["imports"])
    assert report["summary"]["first_party_imports"] == 2


def test_write_report_is_atomic(tmp_path: Path) -> None:
    snippet = """
        import json, os
        path = guard.write_report("out/report.json")
        result["path"] = os.path.relpath(path)
        result["same"] = json.load(open(path))["schema"] == guard.report()["schema"]
        # A failure while writing leaves the previous file intact and no temporary file.
        real_dump = json.dump
        def broken(obj, stream, **kw):
            stream.write('{"partial": ')
            raise OSError("disk full")
        json.dump = broken
        try:
            guard.write_report("out/report.json")
        except OSError as exc:
            result["error"] = str(exc)
        json.dump = real_dump
        result["intact"] = json.load(open(path))["schema"]
        result["files"] = sorted(os.listdir("out"))
    """
    out = run(tmp_path, {}, snippet)
    assert out.result == {
        "path": "out/report.json",
        "same": True,
        "error": "disk full",
        "intact": "ssot_guard.report/1",
        "files": ["report.json"],
    }


def test_report_setting_writes_at_exit(tmp_path: Path) -> None:
    out = run(tmp_path, {"m.py": ""}, "import m", guard={"report": "exit-report.json"})
    assert out.error is None
    data = json.loads((tmp_path / "exit-report.json").read_text())
    assert [r["name"] for r in data["imports"]] == ["m"]


def test_repeated_installs_register_one_exit_handler(tmp_path: Path) -> None:
    snippet = """
        import atexit, gc, weakref, ssot_guard
        ssot_guard.uninstall()
        counts, refs = [], []
        for _ in range(5):
            g = ssot_guard.install()
            refs.append(weakref.ref(g))
            ssot_guard.uninstall()
            counts.append(atexit._ncallbacks())
        del g
        gc.collect()
        result["counts_stable"] = len(set(counts)) == 1
        result["alive"] = sum(1 for ref in refs if ref() is not None)
    """
    out = run(tmp_path, {}, snippet)
    assert out.result == {"counts_stable": True, "alive": 0}
