"""The import hook under hostile conditions (SPEC §6, NOTES P1-P30), each in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scenario import REPO_ROOT, Outcome, child_env, run, run_both, write_tree

# --------------------------------------------------------------------------- threads

N_THREADS = 16


def _web_package() -> dict[str, str]:
    """``web.m0 .. web.m15``: each imports the next two (a DAG that threads race through)."""
    files = {"web/__init__.py": ""}
    for i in range(N_THREADS):
        deps = [j for j in (i + 1, i + 2) if j < N_THREADS]
        body = "".join(f"from web import m{j}\n" for j in deps)
        files[f"web/m{i}.py"] = body + "import time\ntime.sleep(0.002)\nVALUE = 1\n"
    return files


def test_sixteen_threads_import_interdependent_modules(tmp_path: Path) -> None:
    snippet = f"""
        import threading, importlib
        barrier = threading.Barrier({N_THREADS})
        errors = []
        def work(i):
            barrier.wait()
            try:
                importlib.import_module(f"web.m{{i}}")
            except BaseException as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=work, args=(i,), name=f"T{{i}}")
                   for i in range({N_THREADS})]
        for t in threads: t.start()
        for t in threads: t.join(30)
        result["alive"] = [t.name for t in threads if t.is_alive()]
        result["errors"] = errors
        result["stack"] = len(guard._state.stack)
        result["executing"] = sorted(guard.executing)
    """
    out = run(tmp_path, _web_package(), snippet, timeout=60)
    assert out.result == {"alive": [], "errors": [], "stack": 0, "executing": []}
    records = {r["name"]: r for r in out.imports if r["name"].startswith("web")}
    names = [r["name"] for r in out.imports if r["name"].startswith("web")]
    assert sorted(names) == sorted(["web", *(f"web.m{i}" for i in range(N_THREADS))])
    importers = {f"web.m{j}": {f"web.m{j - 1}", f"web.m{j - 2}"} for j in range(N_THREADS)}
    for i in range(N_THREADS):
        record = records[f"web.m{i}"]
        parent = record["parent"]
        if parent is None:  # imported straight from its own thread's function
            assert record["thread"] == f"T{i}"
            assert record["depth"] == 0
            assert record["location"] == "<scenario>:8"
        else:
            assert parent in importers[f"web.m{i}"]
            assert records[parent]["thread"] == record["thread"]
            assert record["depth"] == records[parent]["depth"] + 1
            line = 1 if int(parent[5:]) + 1 == i else 2
            assert record["location"] == f"web/{parent[4:]}.py:{line}"
        assert record["outcome"] == "ok"


def test_init_starting_a_thread_that_imports_a_submodule_does_not_hang(tmp_path: Path) -> None:
    files = {
        "tpkg/__init__.py": """
            import sys, threading, importlib, importlib.resources
            box = {}
            def load():
                # import_module, not ``import tpkg.child``: that statement waits for the
                # package's lock (held by the joining thread) even without the guard.
                child = importlib.import_module("tpkg.child")
                box["child"] = child.VALUE
                # A module object, not a name: resolving "tpkg" would wait for its lock
                # (held by the joining thread) even without the guard.
                package = sys.modules["tpkg"]
                box["files"] = importlib.resources.files(package).joinpath("data.txt").read_text()
            t = threading.Thread(target=load, name="loader")
            t.start()
            t.join()
        """,
        "tpkg/child.py": "VALUE = 42\n",
        "tpkg/data.txt": "payload",
    }
    snippet = """
        import tpkg
        result["box"] = tpkg.box
    """
    plain, guarded = run_both(tmp_path, files, snippet, timeout=20)
    assert plain.result == guarded.result == {"box": {"child": 42, "files": "payload"}}
    child = guarded.record("tpkg.child")
    assert (child["parent"], child["thread"], child["depth"]) == (None, "loader", 0)
    assert child["location"] == "tpkg/__init__.py:6"
    assert guarded.record("tpkg")["thread"] == "MainThread"


# --------------------------------------------------------------------------- zip imports


def _make_zip(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "bundle.zip", "w") as archive:
        archive.writestr(
            "zpkg/__init__.py",
            "import importlib.resources\n"
            "AT_IMPORT = importlib.resources.files(__name__).joinpath('data.txt').read_text()\n",
        )
        archive.writestr("zpkg/data.txt", "zipped data")
        archive.writestr("zpkg/mod.py", "def boom():\n    raise ValueError('in zip')\n")


def test_zip_imports_and_resources(tmp_path: Path) -> None:
    _make_zip(tmp_path / "plain")
    _make_zip(tmp_path / "guarded")
    snippet = """
        import sys, importlib.resources, traceback, inspect
        sys.path.insert(0, "bundle.zip")
        import zpkg, zpkg.mod
        result["at_import"] = zpkg.AT_IMPORT
        result["files"] = importlib.resources.files(zpkg).joinpath("data.txt").read_text()
        result["loader"] = type(zpkg.__loader__).__name__
        result["spec_loader"] = type(zpkg.mod.__spec__.loader).__name__
        result["archive"] = zpkg.__loader__.archive.rsplit("/", 1)[-1]
        result["source"] = inspect.getsource(zpkg.mod.boom).splitlines()[0]
        try:
            zpkg.mod.boom()
        except ValueError as exc:
            result["tb_line"] = traceback.format_exception(exc)[-2].splitlines()[-1].strip()
    """
    plain, guarded = run_both(tmp_path, {}, snippet)
    assert plain.error is None and guarded.error is None
    assert guarded.result == plain.result
    assert plain.result["files"] == plain.result["at_import"] == "zipped data"
    assert plain.result["loader"] == "zipimporter"
    assert plain.result["tb_line"] == "raise ValueError('in zip')"
    record = guarded.record("zpkg.mod")
    assert record["origin"].endswith("bundle.zip/zpkg/mod.py")
    assert record["parent"] is None


# --------------------------------------------------------------------------- LazyLoader

LAZY_RECIPE = """
    import importlib.util, sys
    def lazy_import(name):
        spec = importlib.util.find_spec(name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module
"""


def test_lazy_loader_is_not_forced_and_recorded_on_real_execution(tmp_path: Path) -> None:
    files = {"lazy_mod.py": "import sys\nsys.modules['__main__'].EXECUTED = True\nVALUE = 7\n"}
    snippet = (
        LAZY_RECIPE
        + """
    import __main__
    __main__.EXECUTED = False
    mod = lazy_import("lazy_mod")
    result["executed_before"] = __main__.EXECUTED
    if guard is not None:
        result["recorded_before"] = [r.name for r in guard.records if r.name == "lazy_mod"]
    result["value"] = mod.VALUE
    result["executed_after"] = __main__.EXECUTED
    result["loader"] = type(mod.__loader__).__name__
    result["spec_loader"] = type(mod.__spec__.loader).__name__
    result["class"] = type(mod).__name__
    """
    )
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.error is None and guarded.error is None
    assert plain.result["executed_before"] is False
    assert plain.result["executed_after"] is True
    expected = {k: v for k, v in plain.result.items()}
    assert {k: v for k, v in guarded.result.items() if k != "recorded_before"} == expected
    assert guarded.result["recorded_before"] == []
    record = guarded.record("lazy_mod")
    assert record["location"] == "<scenario>:18"  # the line that touched ``mod.VALUE``


# --------------------------------------------------------------------------- runpy / -m

RUN_FILES = {
    "runme/__init__.py": "",
    "runme/main.py": """
        import sys, json
        from runme import helper
        m = sys.modules["__main__"]
        INFO = {
            "name": __name__,
            "loader": type(__loader__).__name__,
            "spec_loader": type(__spec__.loader).__name__ if __spec__ else None,
            "main_loader": type(getattr(m, "__loader__", None)).__name__,
            "helper_loader": type(helper.__loader__).__name__,
        }
        if __name__ == "__main__":
            print(json.dumps(INFO))
    """,
    "runme/helper.py": "X = 1\n",
    "script.py": """
        import json
        print(json.dumps({"loader": type(__loader__).__name__,
                          "spec": __spec__ is None}))
    """,
}


def _python_m(folder: Path, guarded: bool, *args: str) -> str:
    write_tree(folder, RUN_FILES)
    env = child_env({"PYTHONPATH": str(folder / "site")} if guarded else {})
    if guarded:
        write_tree(
            folder,
            {
                "site/sitecustomize.py": """
                import atexit, json, os, ssot_guard
                guard = ssot_guard.install()
                def dump():
                    with open(os.environ["SSOT_REPORT_OUT"], "w") as handle:
                        json.dump(guard.report(), handle)
                atexit.register(dump)
            """
            },
        )
        env["SSOT_REPORT_OUT"] = str(folder / "report.json")
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_python_dash_m_keeps_original_loader_types(tmp_path: Path) -> None:
    plain = json.loads(_python_m(tmp_path / "plain", False, "-m", "runme.main"))
    guarded = json.loads(_python_m(tmp_path / "guarded", True, "-m", "runme.main"))
    assert guarded == plain
    assert plain["loader"] == plain["spec_loader"] == "SourceFileLoader"
    report = json.loads((tmp_path / "guarded" / "report.json").read_text())
    names = [r["name"] for r in report["imports"]]
    assert names == ["runme", "__main__", "runme.helper"]
    main = next(r for r in report["imports"] if r["name"] == "__main__")
    assert main["origin"] == str(tmp_path / "guarded" / "runme" / "main.py")
    helper = next(r for r in report["imports"] if r["name"] == "runme.helper")
    assert (helper["parent"], helper["location"]) == ("__main__", "runme/main.py:2")


def test_dash_m_main_is_first_party_by_its_module_name(tmp_path: Path) -> None:
    # with ``packages`` set, ``-m runme.main`` is in scope as runme.main, not as "__main__"
    snippet = """
        import runpy
        runpy.run_module("runme.main", run_name="__main__", alter_sys=True)
    """
    out = run(tmp_path, RUN_FILES, snippet, guard={"packages": ["runme"]})
    flags = {r["name"]: r["first_party"] for r in out.imports}
    assert flags == {"runme": True, "__main__": True, "runme.helper": True}


def test_python_script_path(tmp_path: Path) -> None:
    plain = _python_m(tmp_path / "plain", False, "script.py")
    guarded = _python_m(tmp_path / "guarded", True, "script.py")
    assert json.loads(guarded) == json.loads(plain) == {"loader": "SourceFileLoader", "spec": True}


def test_runpy_run_module_and_run_path(tmp_path: Path) -> None:
    snippet = """
        import runpy, sys
        ns = runpy.run_module("runme.main", run_name="__main__", alter_sys=True)
        result["module"] = ns["INFO"]
        result["ns_loader"] = type(ns["__loader__"]).__name__
        result["ns_spec_loader"] = type(ns["__spec__"].loader).__name__
        ns2 = runpy.run_path("runme/main.py", run_name="not_main")
        result["path"] = ns2["INFO"]
        result["path_loader"] = type(ns2["__loader__"]).__name__
        ns3 = runpy.run_module("runme.helper")
        result["helper_loader"] = type(ns3["__loader__"]).__name__
        result["main_in_modules"] = type(sys.modules["__main__"]).__name__
    """
    plain, guarded = run_both(tmp_path, RUN_FILES, snippet)
    assert plain.error is None, plain.error
    assert guarded.result == plain.result
    assert plain.result["ns_loader"] == plain.result["ns_spec_loader"] == "SourceFileLoader"
    names = [r["name"] for r in guarded.imports if r["first_party"]]
    assert names == ["runme", "__main__", "runme.helper", "not_main", "runme.helper"]
    assert [r["outcome"] for r in guarded.imports] == ["ok"] * len(guarded.imports)


# --------------------------------------------------------------------------- reload

RELOAD_FILES = {"counter.py": "import sys\nsys.modules['__main__'].RUNS += 1\nVALUE = 1\n"}


def test_reload_is_recorded_and_flagged(tmp_path: Path) -> None:
    snippet = """
        import importlib, __main__
        __main__.RUNS = 0
        import counter
        first = counter
        again = importlib.reload(counter)
        result["same_object"] = again is first
        result["runs"] = __main__.RUNS
        result["loader"] = type(counter.__loader__).__name__
        result["spec_loader"] = type(counter.__spec__.loader).__name__
    """
    plain, guarded = run_both(tmp_path, RELOAD_FILES, snippet)
    assert guarded.result == plain.result
    assert plain.result["runs"] == 2
    records = [r for r in guarded.imports if r["name"] == "counter"]
    assert [r["reload"] for r in records] == [False, True]
    assert [r["location"] for r in records] == ["<scenario>:4", "<scenario>:6"]


# --------------------------------------------------------------------------- failing bodies

FAIL_FILES = {
    "outer.py": "import inner\n",
    "inner.py": "X = 1\n\n\ndef f():\n    raise LookupError('deep')\n\n\nf()\n",
}


def test_failing_body_traceback_identical_and_module_removed(tmp_path: Path) -> None:
    snippet = """
        import sys, traceback
        try:
            import outer
        except LookupError as exc:
            text = "".join(traceback.format_exception(exc))
            result["tb"] = text.replace(sys.path[0] or ".", "ROOT")
        result["modules"] = sorted(n for n in ("outer", "inner") if n in sys.modules)
    """
    plain, guarded = run_both(tmp_path, FAIL_FILES, snippet)
    assert plain.result["modules"] == [] == guarded.result["modules"]
    assert guarded.result["tb"] == plain.result["tb"].replace("/plain/", "/guarded/")
    assert "importlib" not in plain.result["tb"] and "ssot_guard" not in guarded.result["tb"]
    outer, inner = guarded.record("outer"), guarded.record("inner")
    assert (outer["outcome"], inner["outcome"]) == ("LookupError", "LookupError")
    assert (inner["parent"], inner["location"]) == ("outer", "outer.py:1")


def test_import_error_of_missing_module_unchanged(tmp_path: Path) -> None:
    files = {"broken.py": "import does_not_exist_anywhere\n"}
    snippet = """
        import traceback
        try:
            import broken
        except ImportError as exc:
            result["type"] = type(exc).__name__
            result["name"] = exc.name
            result["tb"] = [f.name for f in traceback.extract_tb(exc.__traceback__)]
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert guarded.result == plain.result
    assert plain.result == {"type": "ModuleNotFoundError", "name": "does_not_exist_anywhere",
                            "tb": ["<module>", "<module>"]}  # fmt: skip
    assert guarded.record("broken")["outcome"] == "ModuleNotFoundError"


def test_keyboard_interrupt_during_import_cleans_stack(tmp_path: Path) -> None:
    files = {
        "ki_outer.py": "import ki_inner\n",
        "ki_inner.py": "import signal\nsignal.raise_signal(signal.SIGINT)\nX = 1\n",
        "after.py": "Y = 1\n",
    }
    snippet = """
        import sys
        try:
            import ki_outer
        except KeyboardInterrupt:
            result["caught"] = True
        result["modules"] = [n for n in ("ki_outer", "ki_inner") if n in sys.modules]
        if guard is not None:
            result["stack"] = len(guard._state.stack)
            result["executing"] = sorted(guard.executing)
        import after
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result == {"caught": True, "modules": []}
    assert guarded.result == {"caught": True, "modules": [], "stack": 0, "executing": []}
    assert guarded.record("ki_inner")["outcome"] == "KeyboardInterrupt"
    after = guarded.record("after")
    assert (after["parent"], after["depth"]) == (None, 0)


# --------------------------------------------------------------------------- odd modules

ODD_FILES = {
    "selfrep.py": """
        import sys
        class Replacement:
            VALUE = "replaced"
        sys.modules[__name__] = Replacement()
    """,
    "classy.py": """
        import sys, types
        class Special(types.ModuleType):
            @property
            def computed(self):
                return "computed"
        sys.modules[__name__].__class__ = Special
        X = 1
    """,
    "user.py": "import selfrep, classy\nA = selfrep.VALUE\nB = classy.computed\n",
}


def test_self_replacing_and_class_swapping_modules(tmp_path: Path) -> None:
    snippet = """
        import sys, user, selfrep, classy
        result["a"], result["b"] = user.A, user.B
        result["selfrep"] = type(sys.modules["selfrep"]).__name__
        result["classy"] = type(classy).__name__
        result["classy_loader"] = type(classy.__loader__).__name__
        result["classy_spec_loader"] = type(classy.__spec__.loader).__name__
    """
    plain, guarded = run_both(tmp_path, ODD_FILES, snippet)
    assert guarded.result == plain.result
    assert plain.result["selfrep"] == "Replacement" and plain.result["classy"] == "Special"
    assert [r["name"] for r in guarded.imports] == ["user", "selfrep", "classy"]
    assert all(r["outcome"] == "ok" for r in guarded.imports)


def test_namespace_package_recorded_with_namespace_origin(tmp_path: Path) -> None:
    files = {"nspkg/sub/mod.py": "X = 1\n"}
    snippet = """
        import nspkg.sub.mod
        result["path"] = [p.rsplit("/", 1)[-1] for p in nspkg.__path__]
        result["loader"] = type(nspkg.__loader__).__name__
        result["spec_loader"] = type(nspkg.__spec__.loader).__name__
        result["file"] = getattr(nspkg, "__file__", None)
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert guarded.result == plain.result
    assert plain.result["path"] == ["nspkg"]
    assert [(r["name"], r["origin"]) for r in guarded.imports] == [
        ("nspkg", "namespace"),
        ("nspkg.sub", "namespace"),
        ("nspkg.sub.mod", str(tmp_path / "guarded" / "nspkg" / "sub" / "mod.py")),
    ]
    assert [r["first_party"] for r in guarded.imports] == [True, True, True]
    assert [r["parent"] for r in guarded.imports] == [None, None, None]


def test_builtin_frozen_and_extension_modules(tmp_path: Path) -> None:
    snippet = """
        import sys
        def kind(loader):  # BuiltinImporter and FrozenImporter are used as classes
            return loader.__name__ if isinstance(loader, type) else type(loader).__name__
        builtin = "_symtable"
        assert builtin in sys.builtin_module_names and builtin not in sys.modules
        result["builtin"] = builtin
        mods = {}
        for name in (builtin, "__phello__", "_statistics", "mmap"):
            module = __import__(name)
            mods[name] = (kind(module.__loader__), kind(module.__spec__.loader),
                          module.__spec__.origin.rsplit("/", 1)[-1])
        result["mods"] = mods
    """
    plain, guarded = run_both(tmp_path, {}, snippet)
    assert guarded.result == plain.result
    builtin = plain.result["builtin"]
    mods = plain.result["mods"]
    assert mods[builtin] == ["BuiltinImporter", "BuiltinImporter", "built-in"]
    assert mods["__phello__"] == ["FrozenImporter", "FrozenImporter", "frozen"]
    assert mods["_statistics"][:2] == ["ExtensionFileLoader", "ExtensionFileLoader"]
    origins = {r["name"]: r["origin"] for r in guarded.imports}
    assert origins[builtin] == "built-in"
    assert origins["__phello__"] == "frozen"
    assert origins["_statistics"].endswith(".so") and origins["mmap"].endswith(".so")
    assert not any(r["first_party"] for r in guarded.imports)


# --------------------------------------------------------------------------- fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_install(tmp_path: Path) -> None:
    files = {
        "forker.py": """
            import os, json, sys
            pid = os.fork()
            if pid == 0:
                import in_child
                guard = sys.modules["ssot_guard"].active()
                with open("child.json", "w") as handle:
                    json.dump({"records": [(r.name, r.parent, r.depth) for r in guard.records],
                               "stack": [f.name for f in guard._state.stack],
                               "executing": sorted(guard.executing)}, handle)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            STATUS = status
        """,
        "in_child.py": "import in_child_dep\n",
        "in_child_dep.py": "X = 1\n",
    }
    snippet = """
        import json, forker
        result["status"] = forker.STATUS
        result["child"] = json.load(open("child.json"))
        import in_child
    """
    out = run(tmp_path, files, snippet)
    assert out.error is None, out.error
    assert out.result["status"] == 0
    child = out.result["child"]
    assert child["records"] == [
        ["forker", None, 0],
        ["in_child", "forker", 1],
        ["in_child_dep", "in_child", 2],
    ]
    assert child["stack"] == ["forker"] and child["executing"] == ["forker"]
    # The parent process is unaffected: it imports in_child itself afterwards.
    assert [(r["name"], r["parent"]) for r in out.imports] == [
        ("forker", None),
        ("in_child", None),
        ("in_child_dep", "in_child"),
    ]


# --------------------------------------------------------------------------- other finders

FINDER_SNIPPET = """
    import sys, importlib.abc, importlib.machinery, importlib.util

    class VirtualLoader(importlib.abc.Loader):
        def create_module(self, spec):
            return None
        def exec_module(self, module):
            module.VALUE = module.__name__ + "!"

    class VirtualFinder:
        def __init__(self, prefix):
            self.prefix = prefix
            self.calls = []
        def find_spec(self, name, path=None, target=None):
            self.calls.append(name)
            if name.startswith(self.prefix):
                return importlib.machinery.ModuleSpec(name, VirtualLoader())
            return None

    class Delegating:
        # A watchdog in front of ours: asks every finder but itself (NOTES P2).
        def find_spec(self, name, path=None, target=None):
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    return spec
            return None

    front, back = VirtualFinder("front_"), VirtualFinder("back_")
    sys.meta_path.insert(0, front)
    sys.meta_path.append(back)
    sys.meta_path.insert(0, Delegating())
    import front_mod, back_mod, plain_mod
    result["values"] = [front_mod.VALUE, back_mod.VALUE, plain_mod.VALUE]
    result["back_loader"] = type(back_mod.__loader__).__name__
    result["back_spec_loader"] = type(back_mod.__spec__.loader).__name__
    result["back_calls"] = back.calls.count("back_mod")
"""


def test_other_finders_before_and_after(tmp_path: Path) -> None:
    files = {"plain_mod.py": "VALUE = 'plain!'\n"}
    plain, guarded = run_both(tmp_path, files, FINDER_SNIPPET)
    assert plain.error is None and guarded.error is None, guarded.error
    assert guarded.result == plain.result
    assert plain.result["values"] == ["front_mod!", "back_mod!", "plain!"]
    assert plain.result["back_loader"] == "VirtualLoader"
    # The delegating finder in front reaches us; we ask the finders behind us once.
    assert guarded.result["back_calls"] == plain.result["back_calls"] == 1
    # (The snippet's own imports, importlib.abc with wrapt 1.x, are recorded too.)
    names = [r["name"] for r in guarded.imports if r["name"].endswith("_mod")]
    assert names == ["back_mod", "plain_mod"]  # front_mod is served before us


def test_install_again_moves_finder_back_to_front(tmp_path: Path) -> None:
    snippet = """
        import sys, ssot_guard
        class Front:
            def find_spec(self, *a):
                return None
        sys.meta_path.insert(0, Front())
        again = ssot_guard.install()
        result["same"] = again is guard
        result["order"] = [type(f).__name__ for f in sys.meta_path[:2]]
        result["count"] = sum(1 for f in sys.meta_path if f is guard.finder)
    """
    out = run(tmp_path, {}, snippet)
    assert out.result == {"same": True, "order": ["GuardFinder", "Front"], "count": 1}


def test_pytest_style_find_spec_with_path_and_exec_module(tmp_path: Path) -> None:
    files = {"tests_dir/test_thing.py": "import helper_mod\nX = helper_mod.Y\n",
             "tests_dir/helper_mod.py": "Y = 5\n"}  # fmt: skip
    snippet = """
        import sys, importlib.util
        sys.path.insert(0, "tests_dir")
        spec = None
        for finder in sys.meta_path:
            spec = finder.find_spec("test_thing", ["tests_dir"])
            if spec is not None:
                break
        mod = importlib.util.module_from_spec(spec)
        sys.modules["test_thing"] = mod
        spec.loader.exec_module(mod)
        result["x"] = mod.X
        result["loader"] = type(mod.__loader__).__name__
        result["spec_loader"] = type(spec.loader).__name__
        result["origin"] = spec.origin.rsplit("/", 2)[-2:]
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert guarded.result == plain.result
    assert plain.result == {"x": 5, "loader": "SourceFileLoader",
                            "spec_loader": "SourceFileLoader",
                            "origin": ["tests_dir", "test_thing.py"]}  # fmt: skip
    assert [(r["name"], r["parent"]) for r in guarded.imports] == [
        ("test_thing", None),
        ("helper_mod", "test_thing"),
    ]
    assert guarded.record("helper_mod")["location"] == "tests_dir/test_thing.py:1"


def test_guard_own_imports_not_recorded(tmp_path: Path) -> None:
    snippet = """
        import sys
        guard.violation("SSOT002", subject="x", message="synthetic")
        guard.report()
        guard.write_report("r.json")
        result["own"] = [r.name for r in guard.records]
    """
    out = run(tmp_path, {}, snippet)
    assert out.result == {"own": []}
    assert not any(name.startswith("ssot_guard") for name in (r["name"] for r in out.imports))


def test_program_printing_json_keeps_stdout_clean(tmp_path: Path) -> None:
    files = {
        "prog.py": """
            import json, sys, ssot_guard
            guard = ssot_guard.install()
            import partner
            guard.violation("SSOT002", subject="partner", message="synthetic warn")
            with guard.severities({"SSOT003": "log"}):
                guard.violation("SSOT003", subject="partner", message="synthetic log")
            guard.internal_error("listener", RuntimeError("synthetic bug"))
            print(json.dumps({"ok": True, "events": len(list(guard.events))}))
            ssot_guard.uninstall()
        """,
        "partner.py": "X = 1\n",
    }
    write_tree(tmp_path, files)
    proc = subprocess.run(
        [sys.executable, "prog.py"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ok": True, "events": 2}
    assert "ssot_guard.import_cycle" in proc.stderr  # the stdlib last-resort handler
    assert "ssot_guard.double_import" not in proc.stderr  # info stays silent
    assert "ssot_guard.internal_error" in proc.stderr


def test_repo_root_is_importable_in_children() -> None:
    """Sanity check for the helpers: the child imports the package from this checkout."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ssot_guard, os; print(os.path.dirname(ssot_guard.__file__))",
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert proc.stdout.strip() == str(REPO_ROOT / "ssot_guard")


def test_hostile_sys_modules_entries(tmp_path: Path) -> None:
    files = {
        "hostile.py": """
            import sys, types
            class Hostile:
                @property
                def __class__(self):
                    raise RuntimeError("no class for you")
                def __getattribute__(self, name):
                    raise RuntimeError("no attributes either")
            class Moody(types.ModuleType):
                def __getattribute__(self, name):
                    raise RuntimeError("moody " + name)
            sys.modules["hostile_object"] = Hostile()
            sys.modules["hostile_module"] = Moody("hostile_module")
            sys.modules["hostile_none"] = None
        """,
        "after.py": "X = 1\n",
    }
    snippet = """
        import sys, json, ssot_guard
        import hostile, after
        json.dumps(guard.report())
        ssot_guard.uninstall()
        result["uninstalled"] = ssot_guard.active() is None
        result["after"] = after.X
        again = ssot_guard.install()
        ssot_guard.uninstall()
        result["again"] = again is not guard
    """
    out = run(tmp_path, files, snippet)
    assert out.error is None, out.error
    assert out.result == {"uninstalled": True, "after": 1, "again": True}


def test_keyboard_interrupt_inside_the_hook_leaves_no_stale_frame(tmp_path: Path) -> None:
    files = {"victim.py": "X = 1\n", "later.py": "Y = 2\n"}
    snippet = """
        participant = guard.participant("import-rules")
        def interrupt(frame, module):
            del participant.before_exec  # once
            raise KeyboardInterrupt
        participant.before_exec = interrupt
        try:
            import victim
        except KeyboardInterrupt:
            result["interrupted"] = True
        result["stack"] = [f.name for f in guard._state.stack]
        result["executing"] = sorted(guard.executing)
        import later
    """
    out = run(tmp_path, files, snippet)
    assert out.result == {"interrupted": True, "stack": [], "executing": []}
    later = out.record("later")
    assert (later["parent"], later["depth"]) == (None, 0)


def test_lazy_finder_behind_the_guard(tmp_path: Path) -> None:
    """A meta-path finder serving LazyLoader specs: still lazy, recorded on real execution."""
    files = {"lazy_a.py": "import sys\nsys.modules['__main__'].RAN.append('lazy_a')\nV = 3\n"}
    snippet = """
        import sys, importlib.util, importlib.machinery, __main__
        __main__.RAN = []
        class LazyFinder:
            def find_spec(self, name, path=None, target=None):
                if not name.startswith("lazy_"):
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path, target)
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        sys.meta_path.append(LazyFinder())
        sys.meta_path.insert(len(sys.meta_path) - 2, sys.meta_path.pop())  # before PathFinder
        import lazy_a
        result["ran_after_import"] = list(__main__.RAN)
        if guard is not None:
            result["recorded_after_import"] = [r.name for r in guard.records]
        result["value"] = lazy_a.V
        result["ran"] = list(__main__.RAN)
        result["loader"] = type(lazy_a.__loader__).__name__
        result["spec_loader"] = type(lazy_a.__spec__.loader).__name__
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.error is None and guarded.error is None, guarded.error
    assert plain.result == {
        "ran_after_import": [],
        "value": 3,
        "ran": ["lazy_a"],
        "loader": "SourceFileLoader",
        "spec_loader": "SourceFileLoader",
    }
    assert guarded.result == {**plain.result, "recorded_after_import": []}
    record = guarded.record("lazy_a")
    assert record["location"] == "<scenario>:17"  # the first attribute access


#: Warnings that count ``stacklevel`` frames up from code the guard sits under: a module
#: body (the loader proxy), a canonical class's ``__init__``/``__new__`` (its wrapper), a
#: class statement's ``__init_subclass__`` and metaclass (the ``__build_class__`` hook), and
#: ``__main__`` run by runpy. Each must name the same line as without the guard.
_STACKLEVEL_FILES = {
    "pkg/__init__.py": "",
    "pkg/old.py": """
        import warnings
        warnings.warn("old1", DeprecationWarning, stacklevel=1)
        warnings.warn("old2", DeprecationWarning, stacklevel=2)
        warnings.warn("old3", DeprecationWarning, stacklevel=3)
        import logging
        logging.getLogger("pkg").warning("log-old", stacklevel=2)
    """,
    "pkg/middle.py": """
        import pkg.old
    """,
    "pkg/base.py": """
        import warnings
        class Meta(type):
            def __new__(mcs, name, bases, ns):
                warnings.warn("meta", DeprecationWarning, stacklevel=2)
                return super().__new__(mcs, name, bases, ns)
        class Base:
            def __init_subclass__(cls, **kwargs):
                warnings.warn("subclass", DeprecationWarning, stacklevel=2)
    """,
    "pkg/db.py": """
        import logging, warnings
        class Manager:
            def __init__(self, legacy=None):
                warnings.warn("init", DeprecationWarning, stacklevel=2)
                logging.getLogger("pkg").warning("log-init", stacklevel=2)
        class Pool:
            def __new__(cls, *args):
                warnings.warn("new", DeprecationWarning, stacklevel=2)
                return super().__new__(cls)
    """,
    "pkg/dup.py": """
        import warnings
        class Manager:
            def __init__(self):
                warnings.warn("dup-init", DeprecationWarning, stacklevel=2)
    """,
    "driver.py": """
        import importlib
        import pkg.middle
        def nested():
            import pkg.base
        nested()
        from pkg.base import Base, Meta
        class Child(Base):
            pass
        class WithMeta(metaclass=Meta):
            pass
        from pkg.db import Manager, Pool
        Manager(legacy=1)
        Pool()
        from pkg.dup import Manager as Copy
        Copy()
    """,
    "script.py": """
        import warnings
        warnings.warn("main2", DeprecationWarning, stacklevel=2)
        warnings.warn("main3", DeprecationWarning, stacklevel=3)
    """,
}


def test_warning_stack_levels_name_the_same_line_as_without_the_guard(tmp_path: Path) -> None:
    snippet = """
        import logging, os, runpy
        class Keep(logging.Handler):
            def emit(self, record):
                where = [record.getMessage(), os.path.basename(record.pathname), record.lineno]
                result.setdefault("logged", []).append(where)
        logging.getLogger("pkg").addHandler(Keep())
        import driver
        runpy.run_path("script.py", run_name="__main__")
    """
    guard = {
        "packages": ["pkg", "driver", "script"],
        "canonical": {"pkg.db.Manager": {"singleton": True}, "pkg.db.Pool": {"singleton": True}},
    }
    plain, guarded = run_both(tmp_path, _STACKLEVEL_FILES, snippet, guard=guard)

    def seen(outcome: Outcome, root: Path) -> list[tuple[str, str, int]]:
        found = []
        for w in outcome.warnings:
            if not w["category"].endswith("RuleWarning"):  # the guard's own
                name = w["filename"]
                found.append((w["message"], os.path.relpath(name, root) if "/" in name else name,
                              w["lineno"]))  # fmt: skip
        return found

    assert plain.error is None and guarded.error is None
    # logging's stacklevel skips the same frames as warnings' (3.11+).
    assert plain.result == {"logged": [["log-old", "middle.py", 1], ["log-init", "driver.py", 12]]}
    assert guarded.result == plain.result
    expected = [
        ("old1", "pkg/old.py", 2),
        ("old2", "pkg/middle.py", 1),  # the importing statement, past importlib's frames
        ("old3", "driver.py", 2),
        ("subclass", "driver.py", 7),
        ("meta", "driver.py", 9),
        ("init", "driver.py", 12),
        ("new", "driver.py", 13),
        ("dup-init", "driver.py", 15),
    ]
    assert seen(plain, tmp_path / "plain")[: len(expected)] == expected
    assert seen(guarded, tmp_path / "guarded") == seen(plain, tmp_path / "plain")
    assert seen(plain, tmp_path / "plain")[len(expected) :] == [
        ("main2", "<frozen runpy>", plain.warnings[-2]["lineno"]),
        ("main3", "<frozen runpy>", plain.warnings[-1]["lineno"]),
    ]
    # The guard did watch: it reported the duplicate class and its instance.
    own = [w["message"][:7] for w in guarded.warnings if w["category"].endswith("RuleWarning")]
    assert own == ["SSOT005", "SSOT004"]
