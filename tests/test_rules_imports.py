"""Import cycles: SSOT001 partial-module-access and SSOT002 import-cycle (SPEC §1, §2, §6).

Every scenario runs in a fresh interpreter; most run twice (without and with the guard) to
show the guarded program behaves exactly like the unguarded one at ``warn``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from scenario import Outcome, child_env, run, run_both, write_tree

BASE_ENV = {
    "app/__init__.py": "",
    "app/base.py": """
        import app.env

        def get_config():
            return "config"
    """,
    "app/env.py": """
        NAME = "prod"
        from app.base import get_config
    """,
}

CATCH = """
    import sys
    try:
        import app.base
    except Exception as exc:
        result["error"] = [type(exc).__name__, str(exc)]
    result["modules"] = sorted(m for m in sys.modules if m.startswith("app"))
"""


def chain(event: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(link["module"], link["location"]) for link in event["chain"]]


def only(outcome: Outcome, rule: str) -> dict[str, Any]:
    events = outcome.events_for(rule)
    assert len(events) == 1, outcome.events
    return events[0]


def test_sibling_cycle_partial_access_is_reported_with_chain(tmp_path: Path) -> None:
    plain, guarded = run_both(tmp_path, BASE_ENV, CATCH)
    # Same program behaviour: same exception type and message, same sys.modules.
    assert guarded.result["modules"] == plain.result["modules"]
    assert guarded.result["error"][1].replace("guarded", "plain") == plain.result["error"][1]
    assert plain.result["error"] == [
        "ImportError",
        "cannot import name 'get_config' from partially initialized module 'app.base' "
        f"(most likely due to a circular import) ({tmp_path / 'plain' / 'app' / 'base.py'})",
    ]
    assert plain.result["modules"] == ["app"]
    assert guarded.rules() == ["SSOT001"]
    event = only(guarded, "SSOT001")
    assert event["subject"] == "app.base"
    assert event["attribute"] == "get_config"
    assert event["location"] == "app/env.py:2"
    assert event["severity"] == "warn"
    assert event["count"] == 1
    assert chain(event) == [("app.base", "<scenario>:4"), ("app.env", "app/base.py:1")]
    assert event["message"] == (
        "cannot import name 'get_config' from partially initialized module 'app.base': "
        "'get_config' is defined at app/base.py:3, after the import at line 1"
    )
    [warning] = guarded.warnings
    assert warning["category"] == "ImportRuleWarning"
    assert warning["filename"] == str(tmp_path / "guarded" / "app" / "env.py")
    assert warning["lineno"] == 2
    assert warning["message"] == (
        "SSOT001 partial-module-access: " + event["message"] + " [chain: app.base (<scenario>:4)"
        " -> app.env (app/base.py:1)]"
    )


def test_unswallowed_error_keeps_type_message_and_traceback_plus_note(tmp_path: Path) -> None:
    snippet = """
        import traceback
        try:
            import app.base
        except ImportError as exc:
            result["lines"] = traceback.format_exception(exc)
            result["message"] = str(exc)
            result["notes"] = list(getattr(exc, "__notes__", []))
    """
    plain, guarded = run_both(tmp_path, BASE_ENV, snippet)
    note = (
        "import cycle: app.base (<scenario>:4) -> app.env (app/base.py:1) -> app.base "
        "(app/env.py:2): 'get_config' is defined at app/base.py:3, after the import at line 1"
    )
    assert plain.result["notes"] == []
    assert guarded.result["notes"] == [note]
    plain_msg = plain.result["message"].replace(str(tmp_path / "plain"), "<root>")
    guarded_msg = guarded.result["message"].replace(str(tmp_path / "guarded"), "<root>")
    assert plain_msg == guarded_msg
    # The traceback is CPython's own (importlib frames stripped, no guard frame), plus the note.
    plain_tb = "".join(plain.result["lines"]).replace(str(tmp_path / "plain"), "<root>")
    guarded_tb = "".join(guarded.result["lines"]).replace(str(tmp_path / "guarded"), "<root>")
    assert guarded_tb == plain_tb + note + "\n"
    assert "ssot_guard" not in guarded_tb and "importlib" not in guarded_tb


def test_swallowed_cycle_is_reported_and_behaviour_unchanged(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": """
            from app import env
            DEFAULT_RATE_LIMIT = 20
        """,
        "app/env.py": """
            try:
                from app.base import DEFAULT_RATE_LIMIT
            except ImportError:
                DEFAULT_RATE_LIMIT = None
            RATE = DEFAULT_RATE_LIMIT
        """,
    }
    snippet = """
        import app.base, app.env, types
        result["rate"] = app.env.RATE
        result["classes"] = [type(app.base) is types.ModuleType, type(app.env) is types.ModuleType]
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result == guarded.result == {"rate": None, "classes": [True, True]}
    event = only(guarded, "SSOT001")
    assert event["subject"] == "app.base"
    assert event["attribute"] == "DEFAULT_RATE_LIMIT"
    assert event["location"] == "app/env.py:2"
    assert chain(event) == [("app.base", "<scenario>:2"), ("app.env", "app/base.py:1")]
    assert event["message"].endswith(
        "'DEFAULT_RATE_LIMIT' is defined at app/base.py:2, after the import at line 1"
    )


def test_package_init_cycle_with_relative_imports(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": """
            from . import a

            def helper():
                return 1
        """,
        "pkg/a.py": """
            import os
            from . import helper
        """,
    }
    plain, guarded = run_both(tmp_path, files, "import pkg")
    assert plain.error is not None and guarded.error is not None
    assert guarded.error["type"] == plain.error["type"] == "ImportError"
    assert guarded.error["message"].replace("guarded", "X") == plain.error["message"].replace(
        "plain", "X"
    )
    event = only(guarded, "SSOT001")
    assert (event["subject"], event["attribute"], event["location"]) == (
        "pkg",
        "helper",
        "pkg/a.py:2",
    )
    assert chain(event) == [("pkg", "<scenario>:1"), ("pkg.a", "pkg/__init__.py:1")]
    assert guarded.error["notes"] == [
        "import cycle: pkg (<scenario>:1) -> pkg.a (pkg/__init__.py:1) -> pkg (pkg/a.py:2): "
        "'helper' is defined at pkg/__init__.py:3, after the import at line 1"
    ]


def test_three_module_cycle_and_name_defined_nowhere(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/a.py": "import app.b\nX = 1\n",
        "app/b.py": "import app.c\n",
        "app/c.py": "from app.a import Y\n",
    }
    out = run(tmp_path, files, "import app.a")
    assert out.error is not None and out.error["type"] == "ImportError"
    event = only(out, "SSOT001")
    assert chain(event) == [
        ("app.a", "<scenario>:1"),
        ("app.b", "app/a.py:1"),
        ("app.c", "app/b.py:1"),
    ]
    assert event["location"] == "app/c.py:1"
    assert out.error["notes"] == [
        "import cycle: app.a (<scenario>:1) -> app.b (app/a.py:1) -> app.c (app/b.py:1) -> "
        "app.a (app/c.py:1): 'Y' is defined nowhere in app/a.py"
    ]


def test_cycle_through_import_module(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": """
            import importlib
            env = importlib.import_module("app.env")
            LATER = 1
        """,
        "app/env.py": """
            try:
                from app.base import LATER
            except ImportError:
                LATER = None
        """,
    }
    plain, guarded = run_both(tmp_path, files, "import app.base; result['v'] = app.env.LATER")
    assert plain.result == guarded.result == {"v": None}
    event = only(guarded, "SSOT001")
    assert chain(event) == [("app.base", "<scenario>:1"), ("app.env", "app/base.py:2")]
    assert event["location"] == "app/env.py:2"
    assert event["message"].endswith("is defined at app/base.py:3, after the import at line 2")


def test_attribute_reads_partial_module(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": "import app.env\nLATER = 1\n",
        "app/env.py": """
            from app import base
            result = []
            result.append(hasattr(base, "LATER"))
            result.append(getattr(base, "LATER", "default"))
            try:
                getattr(base, "LATER")
            except AttributeError as exc:
                result.append(str(exc))
            try:
                base.LATER
            except AttributeError as exc:
                result.append(str(exc))
                result.append(list(getattr(exc, "__notes__", [])))
        """,
    }
    snippet = "import app.base, app.env\nresult['r'] = app.env.result"
    plain, guarded = run_both(tmp_path, files, snippet)
    message = plain.result["r"][2]
    assert message.startswith("partially initialized module 'app.base' ")
    assert message.endswith("has no attribute 'LATER' (most likely due to a circular import)")
    assert plain.result["r"] == [False, "default", message, message, []]
    message = message.replace(str(tmp_path / "plain"), str(tmp_path / "guarded"))
    note = (
        "import cycle: app.base (<scenario>:1) -> app.env (app/base.py:1) -> app.base "
        "(app/env.py:{line}): 'LATER' is defined at app/base.py:2, after the import at line 1"
    )
    assert guarded.result["r"] == [False, "default", message, message, [note.format(line=10)]]
    events = guarded.events_for("SSOT001")
    # hasattr and getattr with a default are probes: never violations.
    assert [e["location"] for e in events] == ["app/env.py:6", "app/env.py:10"]
    assert [chain(e) for e in events] == [
        [("app.base", "<scenario>:1"), ("app.env", "app/base.py:1")]
    ] * 2
    # ``import app.base`` handed out the partial module object itself: SSOT002.
    cycle = only(guarded, "SSOT002")
    assert (cycle["subject"], cycle["location"]) == ("app.base", "app/env.py:1")
    assert "attribute" not in cycle and cycle["name"] == "import-cycle"


def test_handoff_of_defined_name_is_import_cycle(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": """
            def get_config():
                return "config"

            import app.env
        """,
        "app/env.py": """
            from app.base import get_config
            CONFIG = get_config()
        """,
    }
    plain, guarded = run_both(tmp_path, files, "import app.base\nresult['c'] = app.env.CONFIG")
    assert plain.result == guarded.result == {"c": "config"}
    event = only(guarded, "SSOT002")
    assert (event["subject"], event["attribute"], event["location"]) == (
        "app.base",
        "get_config",
        "app/env.py:1",
    )
    assert chain(event) == [("app.base", "<scenario>:1"), ("app.env", "app/base.py:4")]
    assert guarded.rules() == ["SSOT002"]
    [warning] = guarded.warnings
    assert warning["message"].startswith("SSOT002 import-cycle: 'get_config' was taken from")


def test_from_package_import_partial_submodule(tmp_path: Path) -> None:
    """NOTES P20: ``from . import a`` in the middle of a cycle succeeds silently."""
    files = {
        "pkg/__init__.py": "from . import a\n",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "from . import a\nOK = True\n",
    }
    plain, guarded = run_both(tmp_path, files, "import pkg\nresult['ok'] = pkg.b.OK")
    assert plain.result == guarded.result == {"ok": True}
    event = only(guarded, "SSOT002")
    assert (event["subject"], event["location"]) == ("pkg.a", "pkg/b.py:1")
    assert chain(event) == [("pkg.a", "pkg/__init__.py:1"), ("pkg.b", "pkg/a.py:1")]
    assert guarded.rules() == ["SSOT002"]


def test_acyclic_imports_and_own_body_reads_are_silent(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from . import a\nfrom .a import X\nimport pkg.b\nY = pkg.b.Z\n",
        "pkg/a.py": "X = 1\n",
        "pkg/b.py": "from pkg.a import X\nZ = X\n",
    }
    out = run(tmp_path, files, "import pkg\nresult['y'] = pkg.Y")
    assert out.result == {"y": 1}
    assert out.events == []


def test_function_local_import_during_and_after_the_cycle(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": """
            from app import env
            env.probe()
            LATER = 1
        """,
        "app/env.py": """
            def probe():
                try:
                    from app.base import LATER
                except ImportError:
                    return None
                return LATER
        """,
    }
    snippet = """
        import app.base, app.env
        result["after"] = app.env.probe()
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result == guarded.result == {"after": 1}
    event = only(guarded, "SSOT001")
    assert (event["location"], event["count"]) == ("app/env.py:3", 1)
    assert chain(event) == [("app.base", "<scenario>:2")]


def test_strict_raises_guard_errors_at_the_access(tmp_path: Path) -> None:
    out = run(tmp_path, BASE_ENV, "import app.base", guard={"mode": "strict"})
    assert out.error is not None
    assert out.error["type"] == "GuardImportError"
    assert out.error["mro"][:4] == [
        "GuardImportError",
        "SSOTGuardError",
        "ImportError",
        "Exception",
    ]
    assert out.error["message"] == (
        "cannot import name 'get_config' from partially initialized module 'app.base' "
        "(import cycle: app.base (<scenario>:1) -> app.env (app/base.py:1) -> app.base "
        "(app/env.py:2): 'get_config' is defined at app/base.py:3, after the import at line 1)"
    )
    assert only(out, "SSOT001")["severity"] == "error"

    files = {
        "app/__init__.py": "",
        "app/base.py": "import app.env\nLATER = 1\n",
        "app/env.py": """
            from app import base
            PROBES = [hasattr(base, "LATER"), getattr(base, "LATER", 0)]
            try:
                base.LATER
            except AttributeError as exc:
                CAUGHT = type(exc).__name__
        """,
    }
    snippet = "import app.base\nresult['r'] = [app.env.PROBES, app.env.CAUGHT]"
    out = run(tmp_path / "attr", files, snippet, guard={"mode": "strict"})
    assert out.error is None
    assert out.result == {"r": [[False, 0], "GuardAttributeError"]}
    assert [(e["rule"], e["location"]) for e in out.events] == [
        ("SSOT002", "app/env.py:1"),
        ("SSOT001", "app/env.py:4"),
    ]


def test_pytest_importlib_mode_loading(tmp_path: Path) -> None:
    """``find_spec(name, [dir])`` + ``module_from_spec`` + ``exec_module``: no _initializing."""
    files = {
        "tests/test_cycle.py": "import helper\nLATER = 1\n",
        "tests/helper.py": """
            try:
                from test_cycle import LATER
            except ImportError as exc:
                ERROR = str(exc)
        """,
    }
    snippet = """
        import importlib.util, os, sys
        folder = os.path.abspath("tests")
        sys.path.insert(0, folder)
        for finder in sys.meta_path:
            spec = finder.find_spec("test_cycle", [folder])
            if spec is not None:
                break
        module = importlib.util.module_from_spec(spec)
        sys.modules["test_cycle"] = module
        spec.loader.exec_module(module)
        result["error"] = sys.modules["helper"].ERROR.split(" (")[0]
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    # CPython does not even know the module is partial here (no _initializing).
    assert (
        plain.result == guarded.result == {"error": "cannot import name 'LATER' from 'test_cycle'"}
    )
    event = only(guarded, "SSOT001")
    assert (event["subject"], event["location"]) == ("test_cycle", "tests/helper.py:2")
    assert chain(event) == [("test_cycle", "<scenario>:11"), ("helper", "tests/test_cycle.py:1")]


def test_reload_reexecutes_under_the_guard_bookkeeping(tmp_path: Path) -> None:
    files = {"app/__init__.py": "", "app/base.py": "X = 1\n"}
    snippet = """
        import importlib, pathlib, types
        import app.base
        pathlib.Path("app/base.py").write_text("import app.env\\nNEW = 2\\n")
        pathlib.Path("app/env.py").write_text(
            "try:\\n    from app.base import NEW\\n"
            "except ImportError as exc:\\n    ERR = str(exc)\\n"
        )
        importlib.invalidate_caches()
        importlib.reload(app.base)
        result["err"] = app.env.ERR.split(" (")[0]
        result["plain"] = type(app.base) is types.ModuleType
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert (
        plain.result
        == guarded.result
        == {
            "err": "cannot import name 'NEW' from 'app.base'",
            "plain": True,
        }
    )
    event = only(guarded, "SSOT001")
    assert (event["subject"], event["attribute"], event["location"]) == (
        "app.base",
        "NEW",
        "app/env.py:2",
    )
    assert chain(event) == [("app.base", "<scenario>:10"), ("app.env", "app/base.py:1")]


def test_modules_are_plain_after_import_and_self_set_class_kept(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/plain.py": "X = 1\n",
        "app/custom.py": """
            import sys, types
            class Custom(types.ModuleType):
                pass
            sys.modules[__name__].__class__ = Custom
        """,
    }
    snippet = """
        import app.plain, app.custom, sys
        result["types"] = [type(app.plain).__name__, type(app.custom).__name__]
        result["loader"] = type(app.plain.__loader__).__name__
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert (
        plain.result
        == guarded.result
        == {
            "types": ["module", "Custom"],
            "loader": "SourceFileLoader",
        }
    )
    assert guarded.events == []


def test_third_party_partial_modules_are_out_of_scope(tmp_path: Path) -> None:
    out = run(tmp_path, BASE_ENV, CATCH, guard={"packages": ["other"]})
    assert out.result["error"][0] == "ImportError"
    assert out.events == []


def test_rule_off_costs_nothing_and_reports_nothing(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        BASE_ENV,
        CATCH,
        guard={"rules": {"partial-module-access": "off"}},
    )
    assert out.events == []
    assert out.result["error"][0] == "ImportError"


def test_bytecode_helpers_handle_extended_args() -> None:
    """More than 256 names or constants put EXTENDED_ARG prefixes before the import ops."""
    import dis

    from ssot_guard.rules import _imports_inspect as inspect_

    class Frame:
        def __init__(self, code: Any, lasti: int) -> None:
            self.f_code, self.f_lasti = code, lasti

    for count in (3, 300):
        source = "\n".join(f"c{i} = {i}.5" for i in range(count))
        source += (
            "\nfrom os import path, sep\nimport json\nfrom . import x\nfrom os.path import *\n"
        )
        code = compile(source, "<generated>", "exec")
        seen = []
        for instruction in dis.get_instructions(code):
            frame = Frame(code, instruction.offset)
            if instruction.opname == "IMPORT_NAME":
                seen.append(inspect_.import_fromlist(frame))
            elif instruction.opname == "IMPORT_FROM":
                seen.append(inspect_.import_from_name(frame))
        assert seen == [("path", "sep"), "path", "sep", None, ("x",), "x", ("*",)]


def test_cycle_back_into_a_package_that_installed_the_guard(tmp_path: Path) -> None:
    """``install()`` in a package ``__init__``: that module's body started before the guard."""
    import sys

    init = """
        import ssot_guard
        ssot_guard.install()
        from app import base

        def helper():
            return 1
    """
    swallowed = {
        "app/__init__.py": init,
        "app/base.py": """
            try:
                from app import helper
            except ImportError:
                helper = None
        """,
    }
    snippet = """
        import ssot_guard
        try:
            import app
            result["helper"] = app.base.helper
        except ImportError as exc:
            result["notes"] = exc.__notes__
        guard = ssot_guard.active()
        result["events"] = [[e.rule, e.location, e.chain_text()] for e in guard.events]
    """
    out = run(tmp_path / "swallowed", swallowed, snippet, unguarded=True)
    event = ["SSOT001", "app/base.py:2", "app -> app.base (app/__init__.py:3)"]
    # 3.11 sees this cycle only when the error leaves a module body.
    expected = [event] if sys.version_info >= (3, 12) else []
    assert out.result == {"helper": None, "events": expected}

    unswallowed = {**swallowed, "app/base.py": "from app import helper\n"}
    out = run(tmp_path / "unswallowed", unswallowed, snippet, unguarded=True)
    assert out.result == {
        "notes": [
            "import cycle: app -> app.base (app/__init__.py:3) -> app (app/base.py:1): "
            "'helper' is defined at app/__init__.py:5, after the import at line 3"
        ],
        "events": [["SSOT001", "app/base.py:1", "app -> app.base (app/__init__.py:3)"]],
    }


def test_module_object_handed_out_by_import_module_and_star_import(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": """
            def get_config():
                return 1

            import app.env
            import app.star
        """,
        "app/env.py": """
            import importlib
            base = importlib.import_module("app.base")
        """,
        "app/star.py": "from app.base import *\n",
    }
    snippet = "import app.base\nresult['r'] = [app.env.base is app.base, app.star.get_config()]"
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result == guarded.result == {"r": [True, 1]}
    assert [(e["rule"], e["subject"], e["location"]) for e in guarded.events] == [
        ("SSOT002", "app.base", "app/env.py:2"),
        ("SSOT002", "app.base", "app/star.py:1"),
    ]
    assert [chain(e) for e in guarded.events] == [
        [("app.base", "<scenario>:1"), ("app.env", "app/base.py:4")],
        [("app.base", "<scenario>:1"), ("app.star", "app/base.py:5")],
    ]


def test_attribute_error_traceback_unchanged_except_note(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": "import app.env\nLATER = 1\n",
        "app/env.py": "from app import base\nVALUE = base.LATER\n",
    }
    snippet = """
        import traceback
        try:
            import app.base
        except AttributeError as exc:
            result["lines"] = traceback.format_exception(exc)
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    plain_tb = "".join(plain.result["lines"]).replace(str(tmp_path / "plain"), "<root>")
    guarded_tb = "".join(guarded.result["lines"]).replace(str(tmp_path / "guarded"), "<root>")
    note = (
        "import cycle: app.base (<scenario>:4) -> app.env (app/base.py:1) -> app.base "
        "(app/env.py:2): 'LATER' is defined at app/base.py:2, after the import at line 1"
    )
    assert guarded_tb == plain_tb + note + "\n"
    assert "ssot_guard" not in guarded_tb


def test_each_import_form_of_a_partial_module_counts_once(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/base.py": "def f():\n    pass\n\nimport app.env\n",
        "app/env.py": "import app.base as b\nfrom app import base\nimport app.base\n",
    }
    out = run(tmp_path, files, "import app.base")
    assert [(e["rule"], e["subject"], e["location"], e["count"]) for e in out.events] == [
        ("SSOT002", "app.base", "app/env.py:1", 1),
        ("SSOT002", "app.base", "app/env.py:2", 1),
        ("SSOT002", "app.base", "app/env.py:3", 1),
    ]


def test_a_module_is_watched_only_once_another_module_executes_inside_it(tmp_path: Path) -> None:
    """SPEC §7: a leaf module's body runs untouched; the watch starts at the first nested
    module and is gone when the body ends."""
    probe = "(type(sys.modules[__name__].__spec__).__name__, '__getattr__' in globals())"
    files = {
        "app/__init__.py": "",
        "app/leaf.py": f"import sys\nSEEN = [{probe}]\n",
        "app/outer.py": f"""
            import sys
            SEEN = [{probe}]
            import app.leaf
            SEEN.append({probe})
        """,
    }
    snippet = """
        import sys, app.outer
        result["leaf"] = app.leaf.SEEN
        result["outer"] = app.outer.SEEN
        result["after"] = [
            type(sys.modules[name].__spec__).__name__ for name in ("app.leaf", "app.outer")
        ]
        names = ("app.leaf", "app.outer")
        result["getattr"] = [hasattr(sys.modules[name], "__getattr__") for name in names]
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result["leaf"] == guarded.result["leaf"] == [["ModuleSpec", False]]
    assert plain.result["outer"] == [["ModuleSpec", False], ["ModuleSpec", False]]
    assert guarded.result["outer"] == [["ModuleSpec", False], ["_WatchedSpec", True]]
    assert guarded.result["after"] == plain.result["after"] == ["ModuleSpec", "ModuleSpec"]
    assert guarded.result["getattr"] == plain.result["getattr"] == [False, False]
    assert guarded.events == []


def test_hand_outs_to_importlib_are_not_classified(tmp_path: Path) -> None:
    """SPEC §7: loading ``pkg.b`` for ``from . import b`` hands the partial ``pkg`` back to
    importlib's ``_handle_fromlist``, which discards it; only the import statement's own
    hand-out of the watched package reaches the SSOT002 classifier."""
    files = {
        "pkg/__init__.py": "from . import a, b, c\nfrom . import d\n",
        **{f"pkg/{name}.py": "" for name in "abcd"},
    }
    snippet = """
        import ssot_guard.rules.imports as rules_module
        rules = rules_module._RULES
        seen = []
        original = rules._spec
        def counting(frame, caller):
            seen.append((frame.name, caller.f_code.co_name, caller.f_lineno))
            return original(frame, caller)
        rules._spec = counting
        import pkg
        result["seen"] = seen
    """
    out = run(tmp_path, files, snippet)
    assert out.result["seen"] == [["pkg", "<module>", 2]]
    assert out.events == []


# ------------------------------------------------------------------ warnings as errors

PACKAGE_CYCLE = {
    "app/__init__.py": "from app import service\n",
    "app/service.py": "from app import db\nX = 1\n",
    "app/db.py": "from app import service\nY = 2\n",
    "main.py": """
        import sys, warnings
        import ssot_guard
        ssot_guard.install(packages=["app"])
        if sys.argv[1:] == ["filter"]:
            warnings.filterwarnings("error", category=ssot_guard.SSOTGuardWarning)
        try:
            import app
        except Warning as error:
            print(type(error).__name__, sorted(m for m in sys.modules if m.startswith("app")))
        import app
        print("again", app.service.X)
    """,
}


def test_warnings_as_errors_surface_at_the_outermost_import(tmp_path: Path) -> None:
    # An import rule's warning waits until the thread's outermost import has finished
    # (nothing is raised under the import lock): as an error it comes from that statement,
    # whose module is dropped from sys.modules like any failed import and runs again.
    write_tree(tmp_path, PACKAGE_CYCLE)

    def main(*args: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=child_env(),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        warned = [line for line in proc.stderr.splitlines() if "Invalid -W" in line]
        return warned + proc.stdout.splitlines()

    raised = ["ImportRuleWarning ['app.db', 'app.service']", "again 1"]
    assert main("main.py", "filter") == raised
    assert main("-W", "error::RuntimeWarning", "main.py") == raised
    # python -W resolves a category before site-packages is importable: CPython ignores it.
    assert main("-W", "error::ssot_guard.SSOTGuardWarning", "main.py") == [
        "Invalid -W option ignored: invalid module name: 'ssot_guard'",
        "again 1",
    ]
