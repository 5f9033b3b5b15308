"""Canonical classes: SSOT004 non-canonical-instance, SSOT005 duplicate-definition,
SSOT007 second-singleton (SPEC §1, §2, §4). Every scenario runs in a fresh interpreter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenario import Outcome, run, run_both

CANON = {"app.db.DatabaseManager": {}}
SECRET = "postgresql://admin:hunter2-S3CRET@db.internal/app"

FILES = {
    "app/__init__.py": "",
    "app/db.py": """
        class DatabaseManager:
            def __init__(self, url, pool_size=5):
                self.url = url
                self.pool_size = pool_size

            def ping(self):
                return f"pong:{self.pool_size}"
    """,
    "legacy/__init__.py": "",
    "legacy/db.py": """
        class DatabaseManager:
            created = []

            def __init__(self, url, pool_size=5):
                DatabaseManager.created.append(pool_size)
                self.url = url
                self.pool_size = pool_size

            def ping(self):
                return f"legacy-pong:{self.pool_size}"
    """,
    "legacy/eager.py": """
        import app.db


        class DatabaseManager:
            def __init__(self, url=None):
                self.url = url


        database_manager = DatabaseManager()
    """,
}


def only(out: Outcome, rule: str) -> dict[str, Any]:
    events = out.events_for(rule)
    assert len(events) == 1, out.events
    return events[0]


def test_duplicate_defined_after_install_and_instantiated_in_its_own_body(
    tmp_path: Path,
) -> None:
    snippet = """
        import dataclasses
        patched = lambda: dataclasses._set_new_attribute.__module__ != "dataclasses"
        # Every dataclass pays a patched call: only once an __init__ wrapper needs it.
        result["patched"] = [patched()]
        import legacy.eager
        result["patched"].append(patched())
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON})
    assert out.error is None, out.error
    assert out.result == {"patched": [False, True]}
    assert out.rules() == ["SSOT005", "SSOT004"]
    definition = only(out, "SSOT005")
    assert definition["subject"] == "legacy.eager.DatabaseManager"
    assert definition["location"] == "legacy/eager.py:4"
    assert definition["canonical"] == "app.db.DatabaseManager"
    assert definition["canonical_location"] == "app/db.py:1"
    assert definition["count"] == 1
    instance = only(out, "SSOT004")
    assert instance["subject"] == "legacy.eager.DatabaseManager"
    assert instance["location"] == "legacy/eager.py:9"
    assert instance["defined_at"] == "legacy/eager.py:4"
    assert instance["canonical"] == "app.db.DatabaseManager"
    assert instance["subclass_of"] is None
    assert instance["severity"] == "warn"
    warned = [(w["category"], w["filename"].rsplit("/", 2)[-2:], w["lineno"]) for w in out.warnings]
    assert warned == [
        ("ClassRuleWarning", ["legacy", "eager.py"], 4),
        ("ClassRuleWarning", ["legacy", "eager.py"], 9),
    ]
    assert out.warnings[1]["message"] == (
        "SSOT004 non-canonical-instance: instantiated legacy.eager.DatabaseManager, "
        "which is not the canonical class app.db.DatabaseManager"
    )
    assert out.report is not None
    assert out.report["summary"]["canonical"] == {
        "declared": ["app.db.DatabaseManager"],
        "not_imported": [],
        "not_wrapped": {},
    }


def test_classes_defined_before_install_are_found(tmp_path: Path) -> None:
    snippet = """
        import legacy.db, app.db, ssot_guard
        guard = ssot_guard.install(canonical={"app.db.DatabaseManager": {}})
        legacy.db.DatabaseManager("x")
        app.db.DatabaseManager("y")
        result["events"] = [e.as_dict() for e in guard.events]
    """
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert out.error is None, out.error
    events = out.result["events"]
    assert [(e["rule"], e["subject"], e["location"], e["count"]) for e in events] == [
        ("SSOT005", "legacy.db.DatabaseManager", "legacy/db.py:1", 1),
        ("SSOT004", "legacy.db.DatabaseManager", "<scenario>:4", 1),
    ]
    assert events[0]["canonical_location"] == "app/db.py:1"


def test_once_per_location_with_count(tmp_path: Path) -> None:
    snippet = """
        from legacy.db import DatabaseManager
        for i in range(3):
            DatabaseManager("a", pool_size=i)
        DatabaseManager("b")
        result["created"] = DatabaseManager.created
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON})
    instances = out.events_for("SSOT004")
    assert [(e["location"], e["count"]) for e in instances] == [
        ("<scenario>:4", 3),
        ("<scenario>:5", 1),
    ]
    assert out.result["created"] == [0, 1, 2, 5]
    assert [w["lineno"] for w in out.warnings if "SSOT004" in w["message"]] == [4, 5]


def test_strict_raises_before_the_class_runs(tmp_path: Path) -> None:
    snippet = f"""
        from legacy.db import DatabaseManager
        import ssot_guard
        try:
            DatabaseManager({SECRET!r}, pool_size=9)
        except TypeError as exc:
            result["type"] = type(exc).__name__
            result["guard_error"] = isinstance(exc, ssot_guard.SSOTGuardError)
            result["message"] = str(exc)
        result["created"] = DatabaseManager.created
        result["failures"] = [e.rule for e in guard.failures()]
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON, "mode": "strict"})
    assert out.result["type"] == "GuardTypeError"
    assert out.result["guard_error"] is True
    assert out.result["message"] == (
        "SSOT004 non-canonical-instance: instantiated legacy.db.DatabaseManager, which is "
        "not the canonical class app.db.DatabaseManager at <scenario>:5"
    )
    assert out.result["created"] == []
    assert out.result["failures"] == ["SSOT005", "SSOT004"]


def test_strict_in_the_module_body_fails_the_import(tmp_path: Path) -> None:
    snippet = """
        import sys
        try:
            import legacy.eager
        except TypeError as exc:
            result["error"] = type(exc).__name__
        result["loaded"] = "legacy.eager" in sys.modules
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON, "mode": "strict"})
    assert out.result == {"error": "GuardTypeError", "loaded": False}


def test_behaviour_identical_at_warn(tmp_path: Path) -> None:
    snippet = """
        import inspect, pickle, copy
        from legacy.db import DatabaseManager
        m = DatabaseManager("sqlite://", pool_size=3)
        result["ping"] = m.ping()
        result["attrs"] = sorted(vars(m).items())
        result["type"] = type(m).__qualname__
        result["isinstance"] = isinstance(m, DatabaseManager)
        result["signature"] = str(inspect.signature(DatabaseManager))
        clone = pickle.loads(pickle.dumps(m))
        result["pickled"] = (type(clone) is DatabaseManager, clone.pool_size)
        result["copied"] = copy.copy(m).pool_size
        try:
            DatabaseManager()
        except TypeError as exc:
            result["missing_arg"] = str(exc)
        result["created"] = DatabaseManager.created
    """
    plain, guarded = run_both(tmp_path, FILES, snippet, guard={"canonical": CANON})
    assert plain.error is None and guarded.error is None, guarded.error
    assert guarded.result == plain.result
    assert plain.result["signature"] == "(url, pool_size=5)"
    # Unpickling and copy.copy call __new__ only: without a __new__ of its own the class
    # is wrapped on __init__, so they create no SSOT004 (README: "What is seen").
    assert [(e["rule"], e["location"]) for e in guarded.events] == [
        ("SSOT005", "legacy/db.py:1"),
        ("SSOT004", "<scenario>:4"),
        ("SSOT004", "<scenario>:14"),
    ]


KINDS = {
    "app/__init__.py": "",
    "app/kinds.py": """
        class Plain: pass
        class Frozen: pass
        class Slotted: pass
        class Abstract: pass
        class Gen: pass
        class Meta: pass
        class WithNew: pass
        class SlotsDC: pass
        class NoInit: pass
        class Child: pass
    """,
    "legacy/__init__.py": "",
    "legacy/kinds.py": """
        import abc
        import dataclasses
        import typing

        calls = []
        T = typing.TypeVar("T")


        class Plain:
            def __init__(self, value):
                calls.append("Plain")
                self.value = value


        @dataclasses.dataclass(frozen=True)
        class Frozen:
            value: int

            def __post_init__(self):
                calls.append("Frozen")


        class Slotted:
            __slots__ = ("value",)

            def __init__(self, value):
                calls.append("Slotted")
                self.value = value


        class Base(abc.ABC):
            @abc.abstractmethod
            def run(self): ...


        class Abstract(Base):
            def __init__(self, value):
                calls.append("Abstract")
                self.value = value

            def run(self):
                return self.value


        class Gen(typing.Generic[T]):
            def __init__(self, value: T):
                calls.append("Gen")
                self.value = value


        class Counting(type):
            def __call__(cls, *args, **kwargs):
                calls.append("meta-call")
                return super().__call__(*args, **kwargs)


        class Meta(metaclass=Counting):
            def __init__(self, value):
                calls.append("Meta")
                self.value = value


        class WithNew:
            def __new__(cls, value):
                calls.append("WithNew.__new__")
                return super().__new__(cls)

            def __init__(self, value):
                self.value = value


        @dataclasses.dataclass(slots=True)
        class SlotsDC:
            value: int

            def __post_init__(self):
                calls.append("SlotsDC")


        class NoInit:
            value = 0


        class Sub(Plain):
            def __init__(self, value):
                calls.append("Sub")
                super().__init__(value)


        class Child(Sub):
            pass
    """,
}
KIND_NAMES = ["Plain", "Frozen", "Slotted", "Abstract", "Gen", "Meta", "WithNew", "SlotsDC"]
KIND_SNIPPET = """
    import inspect, pickle
    import legacy.kinds as k
    out = {}
    def make(name, factory):
        try:
            obj = factory()
        except TypeError as exc:
            out[name] = ("error", type(exc).__name__)
            return
        out[name] = (type(obj).__qualname__, getattr(obj, "value", None),
                     str(inspect.signature(type(obj))))
    make("Plain", lambda: k.Plain(1))
    make("Frozen", lambda: k.Frozen(2))
    make("Slotted", lambda: k.Slotted(3))
    make("Abstract", lambda: k.Abstract(4))
    make("Gen", lambda: k.Gen[int](5))
    make("Meta", lambda: k.Meta(6))
    make("WithNew", lambda: k.WithNew(7))
    make("SlotsDC", lambda: k.SlotsDC(8))
    make("NoInit", lambda: k.NoInit())
    make("Sub", lambda: k.Sub(10))
    make("Child", lambda: k.Child(11))
    try:
        k.NoInit(1)
    except TypeError as exc:
        out["NoInit-args"] = str(exc)
    result["made"] = out
    result["calls"] = k.calls
"""
KIND_CANON = {f"app.kinds.{name}": {} for name in [*KIND_NAMES, "NoInit", "Child"]}


def test_class_kinds_reported_with_caller_location(tmp_path: Path) -> None:
    plain, guarded = run_both(tmp_path, KINDS, KIND_SNIPPET, guard={"canonical": KIND_CANON})
    assert plain.error is None and guarded.error is None, guarded.error
    assert guarded.result == plain.result
    assert plain.result["made"]["Frozen"] == ["Frozen", 2, "(value: int) -> None"]
    assert plain.result["made"]["NoInit-args"] == "NoInit() takes no arguments"
    located = [
        (e["subject"].rsplit(".", 1)[1], e["location"], e["count"])
        for e in guarded.events_for("SSOT004")
    ]
    names = ["Plain", "Frozen", "Slotted", "Abstract", "Gen", "Meta", "WithNew", "SlotsDC",
             "NoInit", "Sub", "Child"]  # fmt: skip
    expected = [(name, f"<scenario>:{13 + index}", 1) for index, name in enumerate(names)]
    assert located == [*expected, ("NoInit", "<scenario>:25", 1)]
    instances = {e["subject"]: e for e in guarded.events_for("SSOT004")}
    assert instances["legacy.kinds.Sub"]["subclass_of"] == "legacy.kinds.Plain"
    # Child reuses a canonical name *and* derives from a non-canonical class: both shown.
    assert instances["legacy.kinds.Child"]["subclass_of"] == "legacy.kinds.Plain"
    assert instances["legacy.kinds.Plain"]["subclass_of"] is None
    assert instances["legacy.kinds.Sub"]["canonical"] == "app.kinds.Plain"
    definitions = sorted(e["subject"] for e in guarded.events_for("SSOT005"))
    assert definitions == sorted(f"legacy.kinds.{n}" for n in [*KIND_NAMES, "NoInit", "Child"])


def test_class_kinds_strict_no_side_effects(tmp_path: Path) -> None:
    out = run(tmp_path, KINDS, KIND_SNIPPET, guard={"canonical": KIND_CANON, "mode": "strict"})
    assert out.error is None, out.error
    made = out.result["made"]
    for name in [*KIND_NAMES, "NoInit", "Sub", "Child"]:
        assert made[name] == ["error", "GuardTypeError"], name
    # Only the metaclass __call__ runs before the class is reached; nothing of the class does.
    assert out.result["calls"] == ["meta-call"]


SINGLETON = {
    "app/__init__.py": "",
    "app/settings.py": """
        import ssot_guard

        opened = []


        @ssot_guard.canonical(singleton=True)
        class Settings:
            def __init__(self, url):
                opened.append(len(opened))
                self.url = url


        _first = None
        _second = None


        def get_settings():
            global _first
            if _first is None:
                _first = Settings("a")
            return _first


        def get_settings_too():
            global _second
            if _second is None:
                _second = Settings("b")
            return _second
    """,
}


def test_second_singleton_reports_both_sites(tmp_path: Path) -> None:
    snippet = """
        from app.settings import Settings, get_settings, get_settings_too, opened
        a = get_settings(); a2 = get_settings()
        b = get_settings_too()
        for _ in range(2):
            Settings("c")
        result["opened"] = opened
        result["same"] = a is a2
    """
    out = run(tmp_path, SINGLETON, snippet, guard={})
    assert out.error is None, out.error
    events = out.events_for("SSOT007")
    assert [(e["subject"], e["location"], e["first_location"], e["count"]) for e in events] == [
        ("app.settings.Settings", "app/settings.py:27", "app/settings.py:20", 1),
        ("app.settings.Settings", "<scenario>:6", "app/settings.py:20", 2),
    ]
    assert out.result == {"opened": [0, 1, 2, 3], "same": True}
    assert out.rules() == ["SSOT007", "SSOT007"]


def test_second_singleton_strict_raises_before_init(tmp_path: Path) -> None:
    snippet = """
        from app.settings import get_settings, get_settings_too, opened
        get_settings()
        try:
            get_settings_too()
        except TypeError as exc:
            result["error"] = str(exc)
        result["opened"] = opened
    """
    out = run(tmp_path, SINGLETON, snippet, guard={"mode": "strict"})
    assert out.result["error"] == (
        "SSOT007 second-singleton: a second instance of singleton class app.settings.Settings "
        "was created at app/settings.py:27 (first instance created at app/settings.py:20)"
    )
    assert out.result["opened"] == [0]


def test_singleton_from_config_with_cached_new(tmp_path: Path) -> None:
    files = {
        "svc.py": """
            class Pool:
                _instance = None

                def __new__(cls):
                    if cls._instance is None:
                        cls._instance = super().__new__(cls)
                    return cls._instance


            class Registry:
                pass
        """,
    }
    snippet = """
        import svc
        a, b = svc.Pool(), svc.Pool()
        svc.Registry(); svc.Registry()
        svc.Pool._instance = None
        c = svc.Pool()
        result["same"] = a is b
    """
    canonical = {"svc.Pool": {"singleton": True}, "svc.Registry": {"singleton": True}}
    out = run(tmp_path, files, snippet, guard={"canonical": canonical})
    assert out.result["same"] is True
    assert [(e["subject"], e["location"], e["first_location"]) for e in out.events] == [
        ("svc.Registry", "<scenario>:4", "<scenario>:4"),
        ("svc.Pool", "<scenario>:6", "<scenario>:3"),
    ]


def test_decorator_before_install_and_late_declaration(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/models.py": """
            import ssot_guard


            @ssot_guard.canonical(allow=["tools"])
            class Manager:
                pass
        """,
        "old/__init__.py": "",
        "old/models.py": """
            class Manager:
                pass
        """,
        "tools.py": """
            class Manager:
                pass
        """,
    }
    # Declared before install: the registry is read at install.
    snippet = """
        import app.models, old.models, tools, ssot_guard
        guard = ssot_guard.install()
        old.models.Manager(); tools.Manager(); app.models.Manager()
        result["events"] = [(e.rule, e.subject, e.location) for e in guard.events]
    """
    out = run(tmp_path / "before", files, snippet, unguarded=True)
    assert out.result["events"] == [
        ["SSOT005", "old.models.Manager", "old/models.py:1"],
        ["SSOT004", "old.models.Manager", "<scenario>:4"],
    ]
    # Declared while the guard runs, after the duplicate was defined: found by a rescan.
    snippet = """
        import old.models, tools
        import app.models
        old.models.Manager(); tools.Manager(); app.models.Manager()
    """
    out = run(tmp_path / "after", files, snippet, guard={})
    assert [(e["rule"], e["subject"], e["location"]) for e in out.events] == [
        ("SSOT005", "old.models.Manager", "old/models.py:1"),
        ("SSOT004", "old.models.Manager", "<scenario>:4"),
    ]


UNINSTALL_FILES = {
    "app/__init__.py": "",
    "app/db.py": """
        class DatabaseManager: pass
        class Bare: pass
        class Built: pass
        class Slots: pass
        class Inherits: pass
    """,
    "legacy/__init__.py": "",
    "legacy/db.py": """
        import dataclasses


        class Base:
            def __new__(cls, *args, **kwargs):
                return super().__new__(cls)


        class DatabaseManager:
            def __init__(self, url):
                self.url = url


        class Bare:
            pass


        class Built(Base):
            def __init__(self, url):
                self.url = url


        @dataclasses.dataclass(slots=True)
        class Slots:
            url: str


        class Inherits(DatabaseManager):
            pass
    """,
}


def test_uninstall_restores_every_class_exactly(tmp_path: Path) -> None:
    snippet = """
        import builtins, dataclasses, inspect, pickle
        import ssot_guard
        import legacy.db as m
        names = ["DatabaseManager", "Bare", "Built", "Slots", "Inherits"]
        classes = [getattr(m, n) for n in names]
        def snapshot():
            return [(c, dict(c.__dict__), str(inspect.signature(c))) for c in classes]
        build, dc = builtins.__build_class__, dataclasses._set_new_attribute
        before = snapshot()
        canonical = {f"app.db.{n}": {} for n in names}
        for round in range(2):
            guard = ssot_guard.install(canonical=canonical)
            result[f"wrapped{round}"] = sorted(
                n for n, (c, d, _s) in zip(names, before) if dict(c.__dict__) != d
            )
            m.DatabaseManager("x"); m.Bare(); m.Built("x"); m.Slots("x"); m.Inherits("x")
            result[f"events{round}"] = len(guard.events)
            result[f"signatures{round}"] = [s for _c, _d, s in snapshot()] == [
                s for _c, _d, s in before]
            for i in range(200):  # class statements while duplicates exist: nothing pinned
                class Throwaway(m.Bare if i % 2 else object): pass
            p = guard.participant("canonical-classes")
            result[f"pinned{round}"] = sum(c.__name__ == "Throwaway" for c in p._fine.values())
            ssot_guard.uninstall()
        after = snapshot()
        result["same_dicts"] = [
            n for n, (c, d, s), (c2, d2, s2) in zip(names, before, after)
            if c is c2 and d.keys() == d2.keys() and all(d[k] is d2[k] for k in d) and s == s2
        ]
        result["hooks_restored"] = (
            builtins.__build_class__ is build and dataclasses._set_new_attribute is dc)
        # After uninstall the classes still take their arguments (no left-over __new__).
        result["works"] = [m.DatabaseManager("x").url, m.Built("y").url, m.Slots("z").url]
        result["pickle"] = pickle.loads(pickle.dumps(m.DatabaseManager("p"))).url
        try:
            m.Bare(1)
        except TypeError as exc:
            result["bare"] = str(exc)
    """
    out = run(tmp_path, UNINSTALL_FILES, snippet, unguarded=True)
    assert out.error is None, out.error
    names = ["DatabaseManager", "Bare", "Built", "Slots", "Inherits"]
    assert out.result["wrapped0"] == sorted(names)
    assert out.result["wrapped1"] == sorted(names)
    assert out.result["events0"] == out.result["events1"] == 10
    assert out.result["signatures0"] is out.result["signatures1"] is True
    assert out.result["pinned0"] == out.result["pinned1"] == 0
    assert out.result["same_dicts"] == names
    assert out.result["hooks_restored"] is True
    assert out.result["works"] == ["x", "y", "z"]
    assert out.result["pickle"] == "p"
    assert out.result["bare"] == "Bare() takes no arguments"


def test_canonical_class_is_not_touched_and_its_subclasses_are_fine(tmp_path: Path) -> None:
    files = {
        **FILES,
        "app/special.py": """
            from app.db import DatabaseManager


            class ReadOnlyDatabaseManager(DatabaseManager):
                pass
        """,
        "other/__init__.py": "",
        "other/db.py": """
            from app.db import DatabaseManager as _Base


            class DatabaseManager(_Base):
                pass
        """,
    }
    snippet = """
        import builtins
        import app.db, app.special, other.db
        before = dict(app.db.DatabaseManager.__dict__)
        app.db.DatabaseManager("x"); app.special.ReadOnlyDatabaseManager("y")
        other.db.DatabaseManager("z")
        namespace = app.db.DatabaseManager.__dict__
        result["untouched"] = dict(namespace) == before and "__new__" not in namespace
        result["init_is_plain_function"] = type(namespace["__init__"]).__name__
    """
    out = run(tmp_path, files, snippet, guard={"canonical": CANON})
    assert out.result == {"untouched": True, "init_is_plain_function": "function"}
    assert [(e["rule"], e["subject"], e["location"]) for e in out.events] == [
        ("SSOT005", "other.db.DatabaseManager", "other/db.py:4"),
        ("SSOT004", "other.db.DatabaseManager", "<scenario>:6"),
    ]


def test_allowed_module_and_reload(tmp_path: Path) -> None:
    snippet = """
        import importlib
        import app.db, legacy.db
        importlib.reload(app.db)
        importlib.reload(legacy.db)
        app.db.DatabaseManager("x")
        legacy.db.DatabaseManager("y")
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON})
    assert [(e["rule"], e["location"], e["count"]) for e in out.events] == [
        ("SSOT005", "legacy/db.py:1", 1),
        ("SSOT004", "<scenario>:7", 1),
    ]
    allowed = {"app.db.DatabaseManager": {"allow": ["legacy"]}}
    out = run(tmp_path / "allowed", FILES, snippet, guard={"canonical": allowed})
    assert out.events == []


def test_type_created_subclass_and_never_imported_path(tmp_path: Path) -> None:
    snippet = """
        import legacy.db
        Dynamic = type("Dynamic", (legacy.db.DatabaseManager,), {"__module__": "dyn"})
        Dynamic("x")
    """
    canonical = {**CANON, "app.cache.Cache": {}}
    out = run(tmp_path, FILES, snippet, guard={"canonical": canonical})
    assert [(e["rule"], e["subject"], e["location"]) for e in out.events] == [
        ("SSOT005", "legacy.db.DatabaseManager", "legacy/db.py:1"),
        ("SSOT004", "dyn.Dynamic", "<scenario>:4"),
    ]
    assert out.events[1]["subclass_of"] == "legacy.db.DatabaseManager"
    assert out.report is not None
    summary = out.report["summary"]["canonical"]
    assert summary["not_imported"] == ["app.cache.Cache", "app.db.DatabaseManager"]


def test_c_types_are_reported_but_not_wrapped(tmp_path: Path) -> None:
    snippet = """
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
        import collections, ssot_guard
        guard = ssot_guard.install(
            canonical={"app.ordered.OrderedDict": {}}, packages=["app", "collections"])
        collections.OrderedDict(a=1)
        result["events"] = [(e.rule, e.subject) for e in guard.events]
        result["summary"] = guard.report()["summary"]["canonical"]["not_wrapped"]
    """
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert out.error is None, out.error
    assert out.result["events"] == [["SSOT005", "collections.OrderedDict"]]
    assert list(out.result["summary"]) == ["collections.OrderedDict"]
    assert out.result["summary"]["collections.OrderedDict"].startswith("TypeError: ")
    logged = [line for line in out.stderr.splitlines() if "internal_error" in line]
    assert len(logged) == 1 and "collections.OrderedDict" in logged[0]
    assert '"feature": "canonical-classes"' in logged[0]


def test_configuration_errors(tmp_path: Path) -> None:
    snippet = """
        import ssot_guard
        try:
            ssot_guard.install(canonical={"DatabaseManager": {}})
        except ssot_guard.ConfigError as exc:
            result["bare"] = str(exc)
        try:
            ssot_guard.install(canonical={"app.db.DatabaseManager": {"singelton": True}})
        except ssot_guard.ConfigError as exc:
            result["option"] = str(exc)
        def local():
            @ssot_guard.canonical
            class Local: pass
        try:
            local()
        except ssot_guard.ConfigError as exc:
            result["local"] = str(exc)
        try:
            ssot_guard.canonical(allow="app")(type("X", (), {}))
        except ssot_guard.ConfigError as exc:
            result["allow"] = str(exc)
    """
    out = run(tmp_path, FILES, snippet, unguarded=True)
    assert "expected a full class path" in out.result["bare"]
    assert "did you mean 'singleton'?" in out.result["option"]
    assert out.result["local"].startswith(
        "@ssot_guard.canonical on '__scenario__.local.<locals>.Local': expected a class "
        "defined at module level"
    )
    assert "key 'allow': expected a list of module names" in out.result["allow"]


def test_no_constructor_values_anywhere(tmp_path: Path) -> None:
    snippet = f"""
        import json, logging, sys
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        from legacy.db import DatabaseManager
        from app.settings import Settings
        for url in ({SECRET!r}, {SECRET!r} + "2"):
            try:
                DatabaseManager(url, pool_size=1)
            except TypeError as exc:
                print("caught", type(exc).__name__, exc)
            try:
                Settings(url)
            except TypeError as exc:
                print("caught", type(exc).__name__, exc)
        print(json.dumps(guard.report()))
    """
    files = {**FILES, **SINGLETON}
    for mode in ("warn", "strict"):
        out = run(tmp_path / mode, files, snippet, guard={"canonical": CANON, "mode": mode})
        assert out.error is None, out.error
        assert {e["rule"] for e in out.events} == {"SSOT004", "SSOT005", "SSOT007"}
        if mode == "strict":
            assert out.stdout.count("caught GuardTypeError") == 3
        blob = out.stdout + out.stderr + json.dumps(out.warnings) + json.dumps(out.report)
        assert "hunter2" not in blob and "S3CRET" not in blob and "admin" not in blob
        assert "ssot_guard.non_canonical_instance" in out.stderr


MODELS = {
    "app/__init__.py": "",
    "app/models.py": """
        class User: pass
        class Config: pass
        class Color: pass
        class Pooled: pass
    """,
    "legacy/__init__.py": "",
    "legacy/models.py": """
        import enum

        import pydantic
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str]


        class Config(pydantic.BaseModel):
            url: str
            size: int = 3


        class Color(enum.Enum):
            RED = 1


        class Pooled:
            def __new__(cls, *args):
                return super().__new__(cls)

            def __init__(self, size):
                self.size = size
    """,
}


def test_framework_classes_enums_and_pickling(tmp_path: Path) -> None:
    snippet = """
        import inspect, pickle
        from legacy.models import User, Config, Color, Pooled
        user, config, color = User(id=1, name="x"), Config(url="u"), Color(1)
        result["values"] = [user.name, repr(config), repr(color)]
        result["signatures"] = [str(inspect.signature(c)) for c in (User, Config, Pooled)]
        clone = pickle.loads(pickle.dumps(Pooled(4)))
        result["clone"] = clone.size
    """
    canonical = {f"app.models.{n}": {} for n in ("User", "Config", "Color", "Pooled")}
    plain, guarded = run_both(tmp_path, MODELS, snippet, guard={"canonical": canonical})
    assert guarded.error is None, guarded.error
    assert guarded.result == plain.result
    instances = [(e["subject"], e["location"]) for e in guarded.events_for("SSOT004")]
    # Enum members are looked up, not created: enums are reported as definitions only.
    # Unpickling calls Pooled.__new__ (a __new__ of its own): seen, at the user's line.
    assert instances == [
        ("legacy.models.User", "<scenario>:4"),
        ("legacy.models.Config", "<scenario>:4"),
        ("legacy.models.Pooled", "<scenario>:7"),
    ]
    definitions = [e["subject"] for e in guarded.events_for("SSOT005")]
    assert definitions == [f"legacy.models.{n}" for n in ("User", "Config", "Color", "Pooled")]


def test_rules_off_install_nothing_and_threads_count_exactly(tmp_path: Path) -> None:
    snippet = """
        import builtins
        import legacy.db
        result["hooked"] = builtins.__build_class__.__module__
        result["init"] = type(legacy.db.DatabaseManager.__dict__["__init__"]).__name__
        legacy.db.DatabaseManager("x")
    """
    rules = {"SSOT004": "off", "SSOT005": "off", "SSOT007": "off"}
    out = run(tmp_path / "off", FILES, snippet, guard={"canonical": CANON, "rules": rules})
    assert out.result == {"hooked": "builtins", "init": "function"}
    assert out.events == []

    snippet = """
        import threading
        from legacy.db import DatabaseManager
        def work():
            for _ in range(500):
                DatabaseManager("x")
        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads: t.start()
        for t in threads: t.join()
    """
    out = run(tmp_path / "threads", FILES, snippet, guard={"canonical": CANON})
    assert [(e["location"], e["count"]) for e in out.events_for("SSOT004")] == [
        ("<scenario>:6", 3000)
    ]


def test_same_file_under_two_module_names(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/manager.py": """
            class DatabaseManager:
                def __init__(self, url):
                    self.url = url
        """,
    }
    snippet = """
        import sys
        sys.path.insert(0, "app")
        import app.manager, manager
        app.manager.DatabaseManager("a")
        manager.DatabaseManager("b")
    """
    canonical = {"app.manager.DatabaseManager": {}}
    out = run(tmp_path, files, snippet, guard={"canonical": canonical, "packages": ["app"]})
    assert [(e["rule"], e["subject"], e["location"]) for e in out.events_for("SSOT005")] == [
        ("SSOT005", "manager.DatabaseManager", "app/manager.py:1")
    ]
    assert [(e["subject"], e["location"]) for e in out.events_for("SSOT004")] == [
        ("manager.DatabaseManager", "<scenario>:6")
    ]
    assert out.events_for("SSOT005")[0]["canonical_location"] == "app/manager.py:1"


def test_listeners_see_every_occurrence(tmp_path: Path) -> None:
    snippet = """
        seen = []
        guard.add_listener(lambda event, new: seen.append((event.rule, new, event.count)))
        from legacy.db import DatabaseManager
        for _ in range(3):
            DatabaseManager("x")
        result["seen"] = seen
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON})
    assert out.result["seen"] == [
        ["SSOT005", True, 1],
        ["SSOT004", True, 1],
        ["SSOT004", False, 2],
        ["SSOT004", False, 3],
    ]


def test_internal_error_never_breaks_the_call(tmp_path: Path) -> None:
    snippet = """
        import ssot_guard
        from legacy.db import DatabaseManager
        participant = guard.participant("canonical-classes")
        def broken(*args):
            raise RuntimeError("bug in the guard")
        participant._site = broken
        result["first"] = DatabaseManager("x", pool_size=1).pool_size
        result["second"] = DatabaseManager("y", pool_size=2).pool_size
        result["internal"] = guard.internal_errors
        ssot_guard.uninstall()
        result["restored"] = "__init__" in DatabaseManager.__dict__ and (
            type(DatabaseManager.__dict__["__init__"]).__name__ == "function"
            and not hasattr(DatabaseManager.__dict__["__init__"], "__wrapped__"))
    """
    out = run(tmp_path, FILES, snippet, guard={"canonical": CANON, "mode": "strict"})
    assert out.error is None, out.error
    assert out.result["first"] == 1 and out.result["second"] == 2
    assert list(out.result["internal"]) == ["canonical-classes"]
    assert out.result["internal"]["canonical-classes"].startswith("RuntimeError")
    assert out.result["restored"] is True


def test_class_statements_see_their_own_frame_under_the_hook(tmp_path: Path) -> None:
    """While canonical names are declared every class statement runs through the guard's
    ``__build_class__`` hook. Code that looks at the frame defining a class (pydantic reads
    its locals to resolve forward references; registries read ``__init_subclass__``'s caller)
    must see what it sees without the guard."""
    files = {
        "app/__init__.py": "",
        "app/db.py": "class Manager:\n    pass\n",
        "app/models.py": """
            from __future__ import annotations
            import sys
            from pydantic import BaseModel
            SEEN = []
            class Spy:
                def __init_subclass__(cls, **kwargs):
                    f = sys._getframe(1)
                    names = sorted(k for k in f.f_locals if k != "__firstlineno__")  # 3.13+
                    local = "globals" if f.f_locals is f.f_globals else names
                    SEEN.append([cls.__name__, f.f_code.co_name, local, f.f_globals["__name__"]])
            class Top(Spy):
                pass
            def make():
                limit = 3
                class Inner(BaseModel):
                    x: int
                class Outer(BaseModel):
                    inner: Inner
                class Local(Spy):
                    pass
                class Manager:
                    pass
                return Outer
            class Holder:
                class Nested(Spy):
                    pass
            Outer = make()
            def broken():
                class Broken:
                    raise ValueError("boom")
        """,
    }
    snippet = """
        import traceback
        import app.models as m
        try:
            m.broken()
        except ValueError as error:
            frames = traceback.extract_tb(error.__traceback__)
            result["traceback"] = [[f.filename[-13:], f.lineno, f.name] for f in frames]
        result["outer"] = m.Outer(inner={"x": 1}).model_dump()
        result["complete"] = m.Outer.__pydantic_complete__
        result["seen"] = m.SEEN
    """
    guard = {"packages": ["app"], "canonical": {"app.db.Manager": {}}}
    plain, guarded = run_both(tmp_path, files, snippet, guard=guard)
    assert plain.error is None and guarded.error is None, guarded.error
    assert plain.result == {
        "outer": {"inner": {"x": 1}},
        "complete": True,
        "traceback": [
            ["<scenario>", 5, "<module>"],
            ["app/models.py", 29, "broken"],
            ["app/models.py", 30, "Broken"],
        ],
        "seen": [
            ["Top", "<module>", "globals", "app.models"],
            ["Nested", "Holder", ["__module__", "__qualname__"], "app.models"],
            ["Local", "make", ["Inner", "Outer", "limit"], "app.models"],
        ],
    }
    assert guarded.result == plain.result
    assert [(e["rule"], e["location"]) for e in guarded.events] == [("SSOT005", "app/models.py:21")]
