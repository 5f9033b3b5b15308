"""SSOT003 double-import and SSOT008 cross-thread-partial-access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenario import Outcome, run, run_both


def only(outcome: Outcome, rule: str) -> dict[str, Any]:
    events = outcome.events_for(rule)
    assert len(events) == 1, outcome.events
    return events[0]


MANAGER = {
    "app/__init__.py": "",
    "app/db/__init__.py": "",
    "app/db/manager.py": "class DatabaseManager:\n    pass\n",
}


def test_double_import_through_two_sys_path_roots(tmp_path: Path) -> None:
    snippet = """
        import sys
        sys.path.insert(0, "app")
        import app.db.manager
        import db.manager
        import db.manager as again
        result["same_class"] = app.db.manager.DatabaseManager is db.manager.DatabaseManager
    """
    plain, guarded = run_both(tmp_path, MANAGER, snippet)
    assert plain.result == guarded.result == {"same_class": False}
    # The package's __init__ ran twice as well (as app.db and as db): once per file.
    package, event = guarded.events_for("SSOT003")
    assert (package["subject"], package["file"]) == ("db", "app/db/__init__.py")
    assert package["names"] == ["app.db", "db"]
    assert event["subject"] == "db.manager"
    assert event["location"] == "<scenario>:5"
    assert event["file"] == "app/db/manager.py"
    assert event["names"] == ["app.db.manager", "db.manager"]
    assert event["first_location"] == "<scenario>:4"
    assert [(link["module"], link["location"]) for link in event["chain"]] == [
        ("app.db.manager", "<scenario>:4"),
        ("db.manager", "<scenario>:5"),
    ]
    assert event["message"] == (
        "app/db/manager.py was executed twice, as app.db.manager and as db.manager: "
        "every class in it now exists twice"
    )
    # Each event is also a warning at the importing statement.
    assert [(w["category"], w["filename"], w["lineno"]) for w in guarded.warnings] == [
        ("ImportRuleWarning", "<scenario>", 5),
        ("ImportRuleWarning", "<scenario>", 5),
    ]


def test_script_run_as_main_and_imported(tmp_path: Path) -> None:
    files = {
        **MANAGER,
        "app/tool.py": "import app.tool\nclass Tool:\n    pass\n",
    }
    snippet = """
        import runpy
        namespace = runpy.run_path("app/tool.py", run_name="__main__")
        import app.tool
        result["same"] = namespace["Tool"] is app.tool.Tool
    """
    plain, guarded = run_both(tmp_path, files, snippet)
    assert plain.result == guarded.result == {"same": False}
    event = only(guarded, "SSOT003")
    assert (event["subject"], event["names"], event["location"]) == (
        "app.tool",
        ["__main__", "app.tool"],
        "app/tool.py:1",
    )


def test_imported_first_then_run_as_main(tmp_path: Path) -> None:
    files = {**MANAGER, "app/tool.py": "class Tool:\n    pass\n"}
    snippet = """
        import runpy
        import app.tool
        runpy.run_module("app.tool", run_name="__main__", alter_sys=True)
    """
    out = run(tmp_path, files, snippet)
    event = only(out, "SSOT003")
    assert (event["subject"], event["names"], event["file"]) == (
        "__main__",
        ["app.tool", "__main__"],
        "app/tool.py",
    )
    assert event["location"] == "<scenario>:4"


def test_reimport_under_the_same_name_is_not_a_double_import(tmp_path: Path) -> None:
    snippet = """
        import importlib, sys
        import app.db.manager
        importlib.reload(app.db.manager)
        del sys.modules["app.db.manager"]
        import app.db.manager
    """
    out = run(tmp_path, MANAGER, snippet)
    assert out.events == []


THREADS = {
    "sync.py": "import threading\nbarrier = threading.Barrier(2)\n",
    "ma.py": """
        import sync, time
        sync.barrier.wait()
        time.sleep(0.3)
        import mb
        SEEN = getattr(mb, "VALUE", "missing")
        X = 1
    """,
    "mb.py": """
        import sync
        sync.barrier.wait()
        import ma
        VALUE = ma.X
    """,
}

THREAD_SNIPPET = """
    import threading, sys
    threads = [
        threading.Thread(target=__import__, args=("ma",), name="A"),
        threading.Thread(target=__import__, args=("mb",), name="B"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    result["seen"] = sys.modules["ma"].SEEN
    result["value"] = sys.modules["mb"].VALUE
"""


def test_cross_thread_cycle_hands_out_a_partial_module(tmp_path: Path) -> None:
    """NOTES P25: A deadlocks on mb, CPython hands A the partial mb of thread B."""
    plain, guarded = run_both(tmp_path, THREADS, THREAD_SNIPPET)
    assert plain.result == guarded.result == {"seen": "missing", "value": 1}
    events = guarded.events_for("SSOT008")
    assert [(e["subject"], e["location"], e["thread"], e["owner_thread"]) for e in events] == [
        ("mb", "ma.py:5", "A", "B"),
        ("mb", "ma.py:4", "A", "B"),
    ]
    read, imported = events
    assert read["attribute"] == "VALUE"
    assert "attribute" not in imported
    # Each thread imported its module from threading.Thread.run (the thread's target).
    assert [link["module"] for link in read["chain"]] == ["mb", "ma"]
    assert all("threading.py:" in link["location"] for link in read["chain"])
    assert read["message"] == (
        "'VALUE' was read from mb while its body was still executing in thread B"
    )
    assert guarded.rules() == ["SSOT008", "SSOT008"]


def test_cross_thread_is_recorded_not_raised_in_strict(tmp_path: Path) -> None:
    out = run(tmp_path, THREADS, THREAD_SNIPPET, guard={"mode": "strict"})
    assert out.error is None
    assert out.result == {"seen": "missing", "value": 1}
    assert [e["severity"] for e in out.events_for("SSOT008")] == ["error", "error"]


def test_thread_started_by_a_module_body_reads_it_while_partial(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/worker.py": """
            def work(module, out):
                out.append(getattr(module, "CONFIG", "not yet"))
        """,
        "app/server.py": """
            import sys, threading
            from app import worker
            SEEN = []
            thread = threading.Thread(
                target=worker.work, args=(sys.modules[__name__], SEEN), name="W"
            )
            thread.start()
            thread.join()
            CONFIG = {"debug": False}
        """,
    }
    plain, guarded = run_both(tmp_path, files, "import app.server\nresult['s'] = app.server.SEEN")
    assert plain.result == guarded.result == {"s": ["not yet"]}
    event = only(guarded, "SSOT008")
    assert (event["subject"], event["location"], event["thread"], event["owner_thread"]) == (
        "app.server",
        "app/worker.py:2",
        "W",
        "MainThread",
    )
    assert event["attribute"] == "CONFIG"
    assert [(link["module"], link["location"]) for link in event["chain"]] == [
        ("app.server", "<scenario>:1")
    ]
