"""The finder and loader proxy: import order records and transparency (SPEC §3.1, §6)."""

from __future__ import annotations

from pathlib import Path

from scenario import run, run_both

CYCLE = {
    "app/__init__.py": "",
    "app/a.py": """
        import json
        from app import b
        X = 1
    """,
    "app/b.py": """
        import app.a
        Y = 2
    """,
}


def test_records_order_parent_location_and_first_party(tmp_path: Path) -> None:
    out = run(tmp_path, CYCLE, "import app.a")
    names = [r["name"] for r in out.imports]
    assert names == ["app", "app.a", "app.b"]
    a, b = out.record("app.a"), out.record("app.b")
    assert (a["parent"], a["location"], a["depth"]) == (None, "<scenario>:1", 0)
    assert (b["parent"], b["location"], b["depth"]) == ("app.a", "app/a.py:2", 1)
    assert b["origin"] == str(tmp_path / "app" / "b.py")
    assert [r["first_party"] for r in out.imports] == [True, True, True]
    assert [r["seq"] for r in out.imports] == sorted(r["seq"] for r in out.imports)
    assert a["cumulative_us"] >= b["cumulative_us"]
    assert a["self_us"] <= a["cumulative_us"]
    assert "json" in out.report["preloaded"]


def test_loader_and_spec_are_original(tmp_path: Path) -> None:
    snippet = """
        import app.a, sys
        result["loader"] = type(app.a.__loader__).__name__
        result["spec_loader"] = type(app.a.__spec__.loader).__name__
        result["same"] = app.a.__loader__ is app.a.__spec__.loader
        result["meta0"] = repr(sys.meta_path[0])
    """
    plain, guarded = run_both(tmp_path, CYCLE, snippet)
    assert plain.result["loader"] == guarded.result["loader"] == "SourceFileLoader"
    assert guarded.result["spec_loader"] == "SourceFileLoader"
    assert guarded.result["same"] is True
    assert guarded.result["meta0"] == "<ssot_guard finder>"


NO_ATTRIBUTE = "'SourceFileLoader' object has no attribute 'nothing'"


def test_found_spec_loader_reads_like_the_loader(tmp_path: Path) -> None:
    # importlib.util.find_spec() callers (pytest's importlib mode, pkgutil) hold the proxy
    # itself: every read but type() must give what the loader gives, misses included.
    snippet = """
        import importlib.machinery, importlib.util
        spec = importlib.util.find_spec("app.a")
        loader = spec.loader
        result["reads"] = [
            loader.__module__, loader.__doc__[:30], loader.__class__.__name__,
            isinstance(loader, importlib.machinery.SourceFileLoader), loader.name,
            loader.get_filename("app.a") == loader.path, loader.is_package("app.a"),
            hasattr(loader, "nothing"), callable(loader.exec_module),
        ]
        try:
            loader.nothing
        except AttributeError as error:
            result["miss"] = str(error)
        if guard is not None:
            from ssot_guard._hook import LoaderProxy
            result["proxy"] = type(loader) is LoaderProxy
            result["generic"] = LoaderProxy.__getattribute__ is object.__getattribute__
    """
    plain, guarded = run_both(tmp_path, CYCLE, snippet)
    assert plain.error is None and guarded.error is None
    reads = [
        "_frozen_importlib_external", "Concrete implementation of Sou", "SourceFileLoader",
        True, "app.a", True, False, False, True,
    ]  # fmt: skip
    assert plain.result == {"reads": reads, "miss": NO_ATTRIBUTE}
    assert guarded.result == {**plain.result, "proxy": True, "generic": True}


def test_failing_module_keeps_record_and_traceback(tmp_path: Path) -> None:
    files = {"bad.py": "X = 1\nraise ValueError('boom')\n"}
    snippet = """
        import sys
        try:
            import bad
        except ValueError as exc:
            import traceback
            result["tb"] = [f.filename.rsplit('/', 1)[-1] + ':' + f.name
                            for f in traceback.extract_tb(exc.__traceback__)]
        result["in_modules"] = "bad" in sys.modules
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert guarded.result == plain.result
    assert plain.result["tb"] == ["<scenario>:<module>", "bad.py:<module>"]
    assert guarded.record("bad")["outcome"] == "ValueError"


def test_location_of_each_way_a_module_is_loaded(tmp_path: Path) -> None:
    """The importing statement's ``file:line`` for an import statement, the parents of a
    dotted import, the submodules a from-import loads (found past importlib's
    ``_handle_fromlist``), ``import_module()`` and a bare ``__import__()`` call."""
    files = {
        "pkg/__init__.py": """
            \"\"\"Package.\"\"\"
            from . import a, b
            from .sub import c
            import importlib
            importlib.import_module("pkg.d")
            import pkg.e as e
            __import__("pkg.f")
        """,
        **{f"pkg/{name}.py": "" for name in "abdef"},
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "",
        "other/__init__.py": "",
        "other/deep/__init__.py": "",
        "other/deep/leaf.py": "",
    }
    out = run(tmp_path, files, "import pkg\nimport other.deep.leaf")
    locations = {r["name"]: r["location"] for r in out.imports}
    # Parents that a dotted import loads first: importlib imports them one by one.
    assert [locations[name] for name in ("other", "other.deep", "other.deep.leaf")] == [
        "<scenario>:2"
    ] * 3
    assert {name: where for name, where in locations.items() if name.startswith("pkg")} == {
        "pkg": "<scenario>:1",
        "pkg.a": "pkg/__init__.py:2",
        "pkg.b": "pkg/__init__.py:2",
        "pkg.sub": "pkg/__init__.py:3",
        "pkg.sub.c": "pkg/__init__.py:3",
        "pkg.d": "pkg/__init__.py:5",
        "pkg.e": "pkg/__init__.py:6",
        "pkg.f": "pkg/__init__.py:7",
    }


def test_from_import_submodules_need_no_frame_walk(tmp_path: Path) -> None:
    """SPEC §7: the statement that loads a package's submodules is found without walking
    importlib's frames, except for the first import from a file the guard has not seen."""
    files = {
        "pkg/__init__.py": "from . import a, b, c\nfrom . import d\n",
        **{f"pkg/{name}.py": "" for name in "abcd"},
    }
    snippet = """
        from ssot_guard import _guard
        walks = []
        original = _guard.user_frame
        def counting(start=None):
            found = original(start)
            walks.append(found.f_code.co_filename.rsplit("/", 1)[-1] if found else None)
            return found
        _guard.user_frame = counting
        import pkg
        result["walks"] = walks
    """
    out = run(tmp_path, files, snippet)
    assert out.result["walks"] == ["<scenario>", "__init__.py"]
    assert [r["location"] for r in out.imports if r["name"].startswith("pkg.")] == [
        "pkg/__init__.py:1",
        "pkg/__init__.py:1",
        "pkg/__init__.py:1",
        "pkg/__init__.py:2",
    ]


def test_finished_records_are_untracked_tuples(tmp_path: Path) -> None:
    """SPEC §7: finished records are kept as tuples of atomic values, which the garbage
    collector stops tracking; ``Guard.records`` rebuilds ``ImportRecord`` objects."""
    files = {"pkg/__init__.py": "from . import a\n", "pkg/a.py": "X = 1\n"}
    snippet = """
        import gc
        import pkg
        gc.collect()
        stored = [entry for entry in guard._records if entry[1].startswith("pkg")]
        result["stored"] = [(type(entry).__name__, gc.is_tracked(entry)) for entry in stored]
        result["records"] = [
            (type(r).__name__, r.name, r.parent, r.depth, r.outcome)
            for r in guard.records if r.name.startswith("pkg")
        ]
    """
    out = run(tmp_path, files, snippet)
    assert out.result["stored"] == [["tuple", False], ["tuple", False]]
    assert out.result["records"] == [
        ["ImportRecord", "pkg", None, 0, "ok"],
        ["ImportRecord", "pkg.a", "pkg", 1, "ok"],
    ]
