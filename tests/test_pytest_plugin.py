"""The pytest plugin (SPEC §9), run as real pytest sessions on fixture projects.

Every test writes a small project into ``tmp_path`` and runs ``python -m pytest`` in a
subprocess with a clean environment. Violations are triggered directly through
``ssot_guard.active().violation(...)`` from application, conftest or test code, so these
tests do not depend on the rule families.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scenario import child_env, write_tree

HINT = (
    "(known violations of a legacy codebase go in the baseline: --ssot-guard-update-baseline; "
    "lower a rule for one test: @pytest.mark.ssot_guard(rules={'import-cycle': 'log'}))"
)
ENABLED = '[tool.ssot_guard]\npackages = ["app"]\n'

# app/svc.py: line 6 records an import-cycle (SSOT002) violation and swallows the error,
# the way the applications we serve do.
SVC = """
    import ssot_guard


    def work(subject="app.svc"):
        try:
            ssot_guard.active().violation("SSOT002", subject=subject, message="partial hand-off")
            raise ImportError("cannot import name 'x'")
        except ImportError:
            return "fallback"
"""


@dataclass
class Run:
    returncode: int
    out: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def section(self) -> list[str]:
        """The lines of the ``ssot_guard`` terminal summary."""
        lines = self.lines
        start = next(i for i, line in enumerate(lines) if line.strip("= ") == "ssot_guard")
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith(("===", "___"))),
            len(lines),
        )
        return lines[start + 1 : end]


def project(tmp_path: Path, files: dict[str, str], *, pyproject: str | None = ENABLED) -> Path:
    tree = {"app/__init__.py": "", "app/svc.py": SVC, **files}
    if pyproject is not None:
        tree["pyproject.toml"] = pyproject
    write_tree(tmp_path, tree)
    (tmp_path / ".git").mkdir(exist_ok=True)  # stop the pyproject search here
    return tmp_path


def pytest_run(
    root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    code: str | None = None,
    python_args: tuple[str, ...] = (),
) -> Run:
    if code is None:
        command = [sys.executable, *python_args, "-m", "pytest", "-p", "no:cacheprovider", *args]
    else:
        command = [sys.executable, *python_args, "-c", code, "-p", "no:cacheprovider", *args]
    proc = subprocess.run(
        command,
        cwd=root,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr)


def summary_line(run: Run, prefix: str) -> str:
    matches = [line for line in run.lines if line.startswith(prefix)]
    assert len(matches) == 1, (prefix, run.out)
    return matches[0]


# --------------------------------------------------------------------------- failing


def test_swallowed_violation_fails_the_test(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                from app.svc import work

                def test_swallowed():
                    assert work() == "fallback"

                def test_clean():
                    assert True
            """
        },
    )
    run = pytest_run(root, "-rf")
    assert run.returncode == 1, run.out
    failure = run.lines.index("ssot_guard: 1 violation at error severity during this test (call):")
    assert run.lines[failure + 1 : failure + 5] == [
        "  SSOT002 import-cycle: app.svc",
        "    partial hand-off",
        "    at app/svc.py:6",
        HINT,
    ]
    assert "FAILED tests/test_app.py::test_swallowed - Failed: ssot_guard: 1 violation" in run.out
    assert "1 failed, 1 passed" in run.out
    assert run.section() == [
        "mode strict: 1 distinct violation (1 occurrence): 1 new, 0 baselined, 0 not failing",
        "SSOT002 import-cycle: 1 new",
        "  NEW         app.svc at app/svc.py:6  [1x, first in tests/test_app.py::test_swallowed "
        "(call)]",
    ]


def test_violation_in_a_failing_test_is_added_as_a_note(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                from app.svc import work

                def test_fails_anyway():
                    work()
                    assert [1, 2] == [1, 3]
            """
        },
    )
    run = pytest_run(root)
    assert run.returncode == 1, run.out
    # assertion rewriting still explains the failure, and the violation is attached
    assert "E         At index 1 diff: 2 != 3" in run.out
    assert "ssot_guard: 1 violation at error severity during this test (call):" in run.out


def test_setup_and_teardown_violations_fail_their_phase(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import pytest
                from app.svc import work

                @pytest.fixture
                def in_setup():
                    work("app.setup")

                @pytest.fixture
                def in_teardown():
                    yield
                    work("app.teardown")

                def test_setup(in_setup):
                    pass

                def test_teardown(in_teardown):
                    pass
            """
        },
    )
    run = pytest_run(root, "-q", "-rfE")
    assert run.returncode == 1, run.out
    assert "ERROR tests/test_app.py::test_setup - Failed: ssot_guard: 1 violation" in run.out
    assert "ERROR tests/test_app.py::test_teardown - Failed: ssot_guard: 1 violation" in run.out
    assert "during this test (setup):" in run.out
    assert "during this test (teardown):" in run.out
    assert "1 passed, 2 warnings, 2 errors" in run.out


def test_collection_time_violation_is_a_collection_error(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_imports.py": """
                from app.svc import work
                work("app.imported")

                def test_never_runs():
                    pass
            """,
            "tests/pkg/conftest.py": """
                from app.svc import work
                work("app.conftest")
            """,
            "tests/pkg/test_inner.py": "def test_inner(): pass\n",
            "tests/test_other.py": "def test_other(): pass\n",
        },
    )
    run = pytest_run(root, "tests")
    assert run.returncode == 2, run.out
    assert "ERROR collecting tests/test_imports.py" in run.out
    assert "ssot_guard: 1 violation at error severity while collecting tests/test_imports.py:" in (
        run.lines
    )
    assert "ssot_guard: 1 violation at error severity while collecting tests/pkg:" in run.lines
    assert "Interrupted: 2 errors during collection" in run.out
    assert run.section()[1:] == [
        "SSOT002 import-cycle: 2 new",
        "  NEW         app.conftest at app/svc.py:6  [1x, first in collection of tests/pkg]",
        "  NEW         app.imported at app/svc.py:6  [1x, first in collection of "
        "tests/test_imports.py]",
    ]


def test_violation_at_start_up_fails_the_session(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            # an initial conftest is imported before the session starts
            "tests/conftest.py": """
                from app.svc import work
                work("app.startup")
            """,
            "tests/test_one.py": "def test_one(): pass\n",
        },
    )
    run = pytest_run(root, "tests")
    assert run.returncode == 1, run.out
    assert "1 passed" in run.out
    assert run.section() == [
        "mode strict: 1 distinct violation (1 occurrence): 1 new, 0 baselined, 0 not failing",
        "SSOT002 import-cycle: 1 new",
        "  NEW         app.startup at app/svc.py:6  [1x, first in pytest start-up]",
        "violations outside any test fail the session (see above)",
    ]


# --------------------------------------------------------------------------- modes


def test_inert_without_configuration(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/conftest.py": """
                import sys

                # what the inert plugin imported by the time conftests load
                HEAVY = [m for m in ("wrapt", "structlog", "ssot_guard._guard") if m in sys.modules]
            """,
            "tests/test_inert.py": """
                import sys, ssot_guard
                from conftest import HEAVY

                def test_inert(ssot_events):
                    assert HEAVY == []
                    assert ssot_guard.active() is None
                    assert not any("ssot_guard" in repr(f) for f in sys.meta_path)
                    assert list(ssot_events) == []
            """,
        },
        pyproject='[project]\nname = "x"\n',
    )
    run = pytest_run(root, "--strict-markers")
    assert run.returncode == 0, run.out
    assert "ssot_guard" not in run.out.replace("ssot-guard-0.1.0", "")


def test_p_no_disables_the_plugin(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_off.py": """
                import ssot_guard

                def test_off():
                    assert ssot_guard.active() is None
            """
        },
    )
    run = pytest_run(root, "-p", "no:ssot_guard.pytest_plugin")
    assert run.returncode == 0, run.out
    assert "== ssot_guard ==" not in run.out.replace("=", "") and "mode strict" not in run.out


def test_enabled_from_the_command_line_and_the_environment(tmp_path: Path) -> None:
    files = {
        "tests/test_mode.py": """
            import ssot_guard

            def test_mode():
                guard = ssot_guard.active()
                assert guard is not None
                print("SEVERITY", guard.severity("SSOT002"))
        """
    }
    root = project(tmp_path, files, pyproject=None)
    flag = pytest_run(root, "-s", "--ssot-guard")
    assert "SEVERITY error" in flag.out and flag.returncode == 0, flag.out
    warn = pytest_run(root, "-s", "--ssot-guard=warn")
    assert "SEVERITY warn" in warn.out and warn.returncode == 0, warn.out
    env = pytest_run(root, "-s", env={"SSOT_GUARD_MODE": "warn"})
    assert "SEVERITY warn" in env.out and env.returncode == 0, env.out
    off = pytest_run(root, "-s", "--ssot-guard=off")
    assert "assert None is not None" in off.out and off.returncode == 1, off.out
    (root / "pyproject.toml").write_text('[tool.ssot_guard]\nmode = "off"\n')
    kill_switch = pytest_run(root, "-s")
    assert "assert None is not None" in kill_switch.out, kill_switch.out
    (root / "pyproject.toml").write_text('[tool.ssot_guard]\nmode = "off"\ntest-mode = "warn"\n')
    test_mode = pytest_run(root, "-s")
    assert "SEVERITY warn" in test_mode.out and test_mode.returncode == 0, test_mode.out
    (root / "pyproject.toml").write_text('[tool.ssot_guard]\nmdoe = "strict"\n')
    typo = pytest_run(root)
    assert typo.returncode == 4, typo.out
    assert (
        f"ERROR: ssot_guard: {root / 'pyproject.toml'}: unknown key 'mdoe'; expected one of "
    ) in typo.out
    assert "did you mean 'mode'?" in typo.out
    bad = pytest_run(root, "--ssot-guard", "tests")
    assert bad.returncode == 4, bad.out
    assert "--ssot-guard: expected one of off, warn, strict, got 'tests'" in bad.out


def test_test_mode_warn_reports_without_failing(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                from app.svc import work

                def test_swallowed():
                    assert work() == "fallback"
            """
        },
        pyproject=ENABLED + 'mode = "strict"\ntest-mode = "warn"\n',
    )
    run = pytest_run(root)
    assert run.returncode == 0, run.out
    assert "ImportRuleWarning: SSOT002 import-cycle: partial hand-off" in run.out
    assert run.section() == [
        "mode warn: 1 distinct violation (1 occurrence): 0 new, 0 baselined, 1 not failing",
        "SSOT002 import-cycle: 1 not failing",
        "  NOT FAILING app.svc at app/svc.py:6  [1x, first in tests/test_app.py::test_swallowed "
        "(call)]",
    ]


def test_warning_filters_keep_working(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import pytest, ssot_guard
                from app.svc import work

                @pytest.mark.filterwarnings("error::ssot_guard.SSOTGuardWarning")
                def test_mark_turns_it_into_an_error():
                    with pytest.raises(ssot_guard.ImportRuleWarning):
                        work("app.marked")

                def test_default_only_warns():
                    assert work("app.plain") == "fallback"
            """
        },
    )
    run = pytest_run(root, "--ssot-guard=warn")
    assert run.returncode == 0, run.out
    assert "2 passed, 1 warning" in run.out
    dash_w = pytest_run(root, "--ssot-guard=warn", "-W", "error::RuntimeWarning")
    assert dash_w.returncode == 1, dash_w.out
    assert "FAILED tests/test_app.py::test_default_only_warns" in dash_w.out


# --------------------------------------------------------------------------- fixture, marker


def test_ssot_events_fixture_and_marker(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import pytest
                from app.svc import work

                def test_fixture_sees_and_acknowledges(ssot_events):
                    assert len(ssot_events) == 0
                    work()
                    work()
                    assert ssot_events.rules == ["SSOT002"]
                    assert ssot_events.subjects == ["app.svc"]
                    (event,) = ssot_events.for_rule("import-cycle")
                    assert (event.location, event.count) == ("app/svc.py:6", 2)
                    ssot_events.clear()
                    assert list(ssot_events) == []

                @pytest.mark.ssot_guard(rules={"import-cycle": "log"})
                def test_marker_lowers_the_rule(ssot_events):
                    assert work("app.lowered") == "fallback"
                    assert ssot_events.rules == ["SSOT002"]
                    assert ssot_events[0].subject == "app.lowered"

                def test_back_to_error_after_the_marker():
                    work("app.lowered")

                @pytest.mark.ssot_guard(rules={"no-such-rule": "log"})
                def test_bad_marker():
                    pass
            """
        },
    )
    run = pytest_run(root, "--strict-markers", "-rfE")
    assert run.returncode == 1, run.out
    assert "1 failed, 2 passed, 1 warning, 1 error" in run.out
    assert "FAILED tests/test_app.py::test_back_to_error_after_the_marker" in run.out
    assert "ERROR tests/test_app.py::test_bad_marker - Failed: @pytest.mark.ssot_guard: " in run.out
    assert "unknown rule 'no-such-rule'" in run.out
    assert run.section()[1:] == [
        "SSOT002 import-cycle: 1 new, 1 not failing",
        "  NEW         app.lowered at app/svc.py:6  [2x, first in "
        "tests/test_app.py::test_marker_lowers_the_rule (call)]",
        "  NOT FAILING app.svc at app/svc.py:6  [2x, first in "
        "tests/test_app.py::test_fixture_sees_and_acknowledges (call)]",
    ]


# --------------------------------------------------------------------------- baseline

TWO_VIOLATIONS = {
    "tests/test_app.py": """
        from app.svc import work

        def test_one():
            work("app.one")

        def test_two():
            work("app.two")
    """
}


def test_baseline_update_tolerate_new_and_stale(tmp_path: Path) -> None:
    root = project(tmp_path, TWO_VIOLATIONS)
    baseline = root / ".ssot-guard-baseline.json"

    update = pytest_run(root, "--ssot-guard-update-baseline")
    assert update.returncode == 0, update.out
    assert update.section()[-1] == (
        "baseline .ssot-guard-baseline.json written: 2 entries (2 added, 0 stale removed)"
    )
    assert json.loads(baseline.read_text()) == {
        "schema": "ssot_guard.baseline/1",
        "violations": [
            {
                "rule": "SSOT002",
                "name": "import-cycle",
                "subject": "app.one",
                "module": "app.svc",
                "chain": [],
            },
            {
                "rule": "SSOT002",
                "name": "import-cycle",
                "subject": "app.two",
                "module": "app.svc",
                "chain": [],
            },
        ],
    }

    # a reason written by hand survives the next update
    data = json.loads(baseline.read_text())
    data["violations"][0]["reason"] = "cycle broken in JIRA-12"
    baseline.write_text(json.dumps(data, indent=2) + "\n")

    tolerated = pytest_run(root)
    assert tolerated.returncode == 0, tolerated.out
    assert tolerated.section() == [
        "mode strict: 2 distinct violations (2 occurrences): 0 new, 2 baselined, 0 not failing",
        "SSOT002 import-cycle: 2 baselined",
        "  BASELINED   app.one at app/svc.py:6  [1x, first in tests/test_app.py::test_one (call)]",
        "  BASELINED   app.two at app/svc.py:6  [1x, first in tests/test_app.py::test_two (call)]",
        "baseline .ssot-guard-baseline.json: 2 entries, 2 matched, 0 stale",
    ]

    # app.two is fixed, app.three is new
    (root / "tests/test_app.py").write_text(
        "from app.svc import work\n\n"
        "def test_one():\n    work('app.one')\n\n"
        "def test_two():\n    work('app.three')\n"
    )
    mixed = pytest_run(root)
    assert mixed.returncode == 1, mixed.out
    assert "1 failed, 1 passed" in mixed.out
    assert mixed.section() == [
        "mode strict: 2 distinct violations (2 occurrences): 1 new, 1 baselined, 0 not failing",
        "SSOT002 import-cycle: 1 new, 1 baselined",
        "  NEW         app.three at app/svc.py:6  [1x, first in tests/test_app.py::test_two "
        "(call)]",
        "  BASELINED   app.one at app/svc.py:6  [1x, first in tests/test_app.py::test_one (call)]",
        "baseline .ssot-guard-baseline.json: 2 entries, 1 matched, 1 stale",
        "  STALE       SSOT002 import-cycle: app.two in app.svc",
        "remove stale entries with --ssot-guard-update-baseline",
    ]

    (root / "tests/test_app.py").write_text(
        "from app.svc import work\n\ndef test_one():\n    work('app.one')\n"
    )
    stale = pytest_run(root)
    assert stale.returncode == 0, stale.out
    strict = pytest_run(root, "--ssot-guard-strict-baseline")
    assert strict.returncode == 1, strict.out
    assert "1 passed" in strict.out
    assert strict.section()[-2:] == [
        "  STALE       SSOT002 import-cycle: app.two in app.svc",
        "stale baseline entries fail the run (--ssot-guard-strict-baseline)",
    ]

    again = pytest_run(root, "--ssot-guard-update-baseline")
    assert again.returncode == 0, again.out
    assert json.loads(baseline.read_text())["violations"] == [
        {
            "rule": "SSOT002",
            "name": "import-cycle",
            "subject": "app.one",
            "module": "app.svc",
            "chain": [],
            "reason": "cycle broken in JIRA-12",
        }
    ]


def test_baseline_fingerprint_ignores_lines_and_uses_name_and_chain(tmp_path: Path) -> None:
    files = {
        "app/chained.py": """
            import ssot_guard
            from ssot_guard import ChainLink


            def hit(name="FLAGS"):
                ssot_guard.active().violation(
                    "SSOT001",
                    subject="app.config",
                    message="not defined yet",
                    chain=(
                        ChainLink("app.config", "app/main.py:3"),
                        ChainLink("app.env", "app/config.py:1"),
                    ),
                    attribute=name,
                )
        """,
        "tests/test_app.py": """
            from app.chained import hit

            def test_chain():
                hit()
        """,
    }
    root = project(tmp_path, files)
    assert pytest_run(root, "--ssot-guard-update-baseline").returncode == 0
    entries = json.loads((root / ".ssot-guard-baseline.json").read_text())["violations"]
    assert entries == [
        {
            "rule": "SSOT001",
            "name": "partial-module-access",
            "subject": "app.config",
            "attribute": "FLAGS",
            "module": "app.chained",
            "chain": ["app.config", "app.env"],
        }
    ]
    # moving the statement changes the location, not the fingerprint
    source = (root / "app/chained.py").read_text()
    (root / "app/chained.py").write_text("\n\n# moved\n" + source)
    run = pytest_run(root)
    assert run.returncode == 0, run.out
    assert "  BASELINED   app.config 'FLAGS' at app/chained.py:9  [1x, first in " in run.out
    assert (
        "              chain: app.config (app/main.py:3) -> app.env (app/config.py:1)" in run.lines
    )
    # another name missing from the same module is a new violation
    (root / "tests/test_app.py").write_text(
        "from app.chained import hit\n\ndef test_chain():\n    hit('OTHER')\n"
    )
    other = pytest_run(root)
    assert other.returncode == 1, other.out
    assert "  NEW         app.config 'OTHER' at app/chained.py:9  [1x, first in " in other.out
    assert (
        "  STALE       SSOT001 partial-module-access: app.config 'FLAGS' in app.chained  "
        "chain app.config -> app.env"
    ) in other.lines
    # an entry written by hand without attribute and module covers them all
    (root / ".ssot-guard-baseline.json").write_text(
        json.dumps(
            {
                "schema": "ssot_guard.baseline/1",
                "violations": [
                    {"rule": "SSOT001", "subject": "app.config", "chain": ["app.config", "app.env"]}
                ],
            }
        )
    )
    wildcard = pytest_run(root, "--ssot-guard-strict-baseline")
    assert wildcard.returncode == 0, wildcard.out
    assert "baseline .ssot-guard-baseline.json: 1 entry, 1 matched, 0 stale" in wildcard.lines


def test_corrupt_baseline_is_a_usage_error_and_never_overwritten(tmp_path: Path) -> None:
    root = project(tmp_path, TWO_VIOLATIONS)
    baseline = root / ".ssot-guard-baseline.json"
    head = '{"schema": "ssot_guard.baseline/1", "violations": '
    cases = [
        (head + "[\n", "not valid JSON: Expecting value (line 2, column 1)"),
        (
            head + '[{"rule": "SSOT999", "subject": "a"}]}',
            "violations[0].rule: unknown rule 'SSOT999'",
        ),
        (head + '[{"rule": "SSOT002"}]}', "violations[0]: missing key 'subject'"),
        ('{"violations": []}', "schema: expected 'ssot_guard.baseline/1', got None"),
    ]
    for index, (text, problem) in enumerate(cases):
        baseline.write_text(text)
        # --ssot-guard-update-baseline does not overwrite a broken file either
        run = pytest_run(root, *(("--ssot-guard-update-baseline",) if index == 0 else ()))
        assert run.returncode == 4, run.out
        assert f"ERROR: ssot_guard baseline: {baseline}: {problem}" in run.out
        assert baseline.read_text() == text
    missing = pytest_run(root, "--ssot-guard-baseline=nowhere.json")
    assert missing.returncode == 4
    assert f"{root / 'nowhere.json'}: baseline file not found" in missing.out


# --------------------------------------------------------------------------- xdist


def test_xdist_workers_merge_into_one_summary_and_baseline(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/conftest.py": """
                from app.svc import work
                work("app.everywhere")
            """,
            "tests/test_a.py": """
                from app.svc import work

                def test_a1():
                    work("app.shared")

                def test_a2():
                    work("app.only_a")
            """,
            "tests/test_b.py": """
                from app.svc import work

                def test_b1():
                    work("app.shared")

                def test_b2():
                    pass
            """,
        },
    )
    run = pytest_run(root, "-n", "2", "-p", "xdist", "--dist", "loadfile", "tests")
    assert run.returncode == 1, run.out
    assert "3 failed, 1 passed" in run.out
    section = run.section()
    assert section[0] == (
        "mode strict: 3 distinct violations (4 occurrences): 3 new, 0 baselined, 0 not failing"
    )
    assert section[1] == "SSOT002 import-cycle: 3 new"
    assert (
        section[2] == "  NEW         app.everywhere at app/svc.py:6  [1x, first in pytest start-up]"
    )
    assert section[3].startswith("  NEW         app.only_a at app/svc.py:6  [1x, first in ")
    assert section[4].startswith("  NEW         app.shared at app/svc.py:6  [2x, first in ")
    assert section[5] == "violations outside any test fail the session (see above)"

    update = pytest_run(root, "-n", "2", "tests", "--ssot-guard-update-baseline")
    assert update.returncode == 0, update.out
    subjects = [
        entry["subject"]
        for entry in json.loads((root / ".ssot-guard-baseline.json").read_text())["violations"]
    ]
    assert subjects == ["app.everywhere", "app.only_a", "app.shared"]
    tolerated = pytest_run(root, "-n", "2", "tests", "--ssot-guard-strict-baseline")
    assert tolerated.returncode == 0, tolerated.out
    assert "baseline .ssot-guard-baseline.json: 3 entries, 3 matched, 0 stale" in tolerated.out


# --------------------------------------------------------------------------- import system


def test_guard_is_in_front_of_assertion_rewriting(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/conftest.py": """
                import ssot_guard

                def pytest_configure(config):
                    guard = ssot_guard.active()
                    config.conftest_imported = any(
                        r.name == "conftest" for r in guard.records
                    )
            """,
            "tests/test_rewrite.py": """
                import sys

                def test_order(request):
                    assert request.config.conftest_imported
                    assert repr(sys.meta_path[0]) == "<ssot_guard finder>"
                    assert type(sys.meta_path[1]).__name__ == "AssertionRewritingHook"
                    assert type(__loader__).__name__ == "AssertionRewritingHook"
                    assert type(__spec__.loader).__name__ == "AssertionRewritingHook"

                def test_rewritten():
                    assert [1, 2] == [1, 3]
            """,
        },
    )
    run = pytest_run(root, "tests")
    assert run.returncode == 1, run.out
    assert "1 failed, 1 passed" in run.out
    assert "E         At index 1 diff: 2 != 3" in run.out


def test_imported_before_pytest_under_w_error(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import ssot_guard

                def test_guarded():
                    assert ssot_guard.active() is not None
            """
        },
    )
    code = (
        "import sys, ssot_guard, pytest; rc = pytest.main(); "
        "print('AFTER', ssot_guard.active()); sys.exit(rc)"
    )
    run = pytest_run(
        root, "-W", "error", code=code, python_args=("-W", "error::DeprecationWarning")
    )
    assert run.returncode == 0, run.out
    assert "already imported" not in run.out
    assert "1 passed" in run.out
    assert "AFTER None" in run.out  # the plugin uninstalls the guard it installed


def test_guard_installed_before_pytest_is_reused_in_test_mode(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import sys, ssot_guard
                from app.svc import work

                def test_reused():
                    assert repr(sys.meta_path[0]) == "<ssot_guard finder>"
                    assert ssot_guard.active().severity("SSOT002") == "error"
                    work()
            """
        },
    )
    code = (
        "import sys, ssot_guard; ssot_guard.install(mode='warn', packages=['app']); "
        "import pytest; rc = pytest.main(); "
        "print('AFTER', ssot_guard.active().severity('SSOT002')); sys.exit(rc)"
    )
    run = pytest_run(root, code=code)
    assert run.returncode == 1, run.out
    assert "ssot_guard: 1 violation at error severity during this test (call):" in run.out
    assert "AFTER warn" in run.out


def test_loaded_from_a_conftest_without_autoload(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "conftest.py": 'pytest_plugins = ["ssot_guard.pytest_plugin"]\n',
            "tests/test_app.py": """
                import sys, ssot_guard
                from app.svc import work

                def test_late_install():
                    assert repr(sys.meta_path[0]) == "<ssot_guard finder>"
                    work()
            """,
        },
    )
    run = pytest_run(root, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert run.returncode == 1, run.out
    assert "ssot_guard: 1 violation at error severity during this test (call):" in run.lines
    assert "SSOT002 import-cycle: 1 new" in run.lines


def test_internal_error_fails_a_strict_run(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import ssot_guard

                def test_guard_bug():
                    ssot_guard.active().internal_error("demo-feature", ValueError("x"))
            """
        },
    )
    strict = pytest_run(root)
    assert strict.returncode == 1, strict.out
    assert "1 passed" in strict.out
    assert strict.section()[-2:] == [
        "internal error in the guard's demo-feature: ValueError",
        "internal errors fail the run in strict mode",
    ]
    assert pytest_run(root, "--ssot-guard=warn").returncode == 0


def test_update_baseline_needs_the_guard_enabled(tmp_path: Path) -> None:
    root = project(tmp_path, TWO_VIOLATIONS, pyproject=None)
    run = pytest_run(root, "--ssot-guard-update-baseline")
    assert run.returncode == 4, run.out
    assert "--ssot-guard-update-baseline: the guard is not enabled for this run" in run.out
    assert not (root / ".ssot-guard-baseline.json").exists()


def test_baselined_violation_of_a_raising_rule_is_not_raised(tmp_path: Path) -> None:
    # a rule that raises at the point in strict mode (as SSOT004 does) asks the guard
    # whether the violation is tolerated (baselined) before raising
    files = {
        "app/legacy.py": """
            import ssot_guard


            def make_manager():
                guard = ssot_guard.active()
                subject = "app.legacy.DatabaseManager"
                guard.violation("SSOT004", subject=subject, message="non-canonical class")
                if guard.severity("SSOT004") == "error" and not guard.tolerated("SSOT004", subject):
                    raise ssot_guard.GuardTypeError("SSOT004 non-canonical-instance")
                return "manager"
        """,
        "tests/test_app.py": """
            from app.legacy import make_manager

            def test_manager():
                assert make_manager() == "manager"
        """,
    }
    root = project(tmp_path, files)
    raised = pytest_run(root)
    assert raised.returncode == 1, raised.out
    assert "E           ssot_guard._errors.GuardTypeError: SSOT004 non-canonical-instance" in (
        raised.lines
    )
    update = pytest_run(root, "--ssot-guard-update-baseline")
    assert update.returncode == 0, update.out
    tolerated = pytest_run(root)
    assert tolerated.returncode == 0, tolerated.out
    assert "  BASELINED   app.legacy.DatabaseManager at app/legacy.py:7" in tolerated.out


# --------------------------------------------------------------------------- real rules

CYCLE = {
    "app/config/__init__.py": "",
    "app/config/base.py": """
        from app import environment

        FEATURE_FLAGS = {"chat": True}
    """,
    "app/environment.py": """
        try:
            from app.config.base import FEATURE_FLAGS
        except ImportError:
            FEATURE_FLAGS = {}
    """,
    "tests/test_env.py": """
        def test_flags():
            import app.config.base
            from app import environment
            assert environment.FEATURE_FLAGS == {}
    """,
}


def test_real_swallowed_partial_module_access_fails_and_baselines(tmp_path: Path) -> None:
    root = project(tmp_path, CYCLE)
    run = pytest_run(root)
    assert run.returncode == 1, run.out
    failure = run.lines.index("ssot_guard: 1 violation at error severity during this test (call):")
    assert (
        run.lines[failure + 1] == "  SSOT001 partial-module-access: app.config.base 'FEATURE_FLAGS'"
    )
    assert run.lines[failure + 3 : failure + 6] == [
        "    at app/environment.py:2",
        "    chain: app.config.base (tests/test_env.py:2) -> "
        "app.environment (app/config/base.py:1)",
        HINT.replace("import-cycle", "partial-module-access"),
    ]
    assert run.section()[1:] == [
        "SSOT001 partial-module-access: 1 new",
        "  NEW         app.config.base 'FEATURE_FLAGS' at app/environment.py:2  "
        "[1x, first in tests/test_env.py::test_flags (call)]",
        "              chain: app.config.base (tests/test_env.py:2) -> "
        "app.environment (app/config/base.py:1)",
    ]
    assert pytest_run(root, "--ssot-guard-update-baseline").returncode == 0
    entries = json.loads((root / ".ssot-guard-baseline.json").read_text())["violations"]
    assert entries == [
        {
            "rule": "SSOT001",
            "name": "partial-module-access",
            "subject": "app.config.base",
            "attribute": "FEATURE_FLAGS",
            "module": "app.environment",
            "chain": ["app.config.base", "app.environment"],
        }
    ]
    tolerated = pytest_run(root, "--ssot-guard-strict-baseline")
    assert tolerated.returncode == 0, tolerated.out
    assert "baseline .ssot-guard-baseline.json: 1 entry, 1 matched, 0 stale" in tolerated.lines


def test_marker_on_a_class_and_the_closest_mark_wins(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/test_app.py": """
                import pytest
                from app.svc import work

                pytestmark = pytest.mark.ssot_guard(rules={"SSOT002": "warn"})

                @pytest.mark.ssot_guard(rules={"import-cycle": "log"})
                class TestLowered:
                    def test_class_mark(self):
                        work("app.cls")

                    @pytest.mark.ssot_guard(rules={"import-cycle": "error"})
                    def test_closest_wins(self):
                        work("app.closest")

                def test_module_mark():
                    work("app.module")
            """
        },
    )
    run = pytest_run(root, "-rf")
    assert run.returncode == 1, run.out
    assert (
        "FAILED tests/test_app.py::TestLowered::test_closest_wins - Failed: ssot_guard" in run.out
    )
    # warnings from the error and the warn events; the class-level "log" emits none
    assert "1 failed, 2 passed, 2 warnings" in run.out
    assert run.section()[1:] == [
        "SSOT002 import-cycle: 1 new, 2 not failing",
        "  NEW         app.closest at app/svc.py:6  [1x, first in "
        "tests/test_app.py::TestLowered::test_closest_wins (call)]",
        "  NOT FAILING app.cls at app/svc.py:6  [1x, first in "
        "tests/test_app.py::TestLowered::test_class_mark (call)]",
        "  NOT FAILING app.module at app/svc.py:6  [1x, first in "
        "tests/test_app.py::test_module_mark (call)]",
    ]


def test_p_plugin_without_autoload(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "tests/conftest.py": "import app.svc\n",
            "tests/test_app.py": """
                import ssot_guard

                def test_conftest_was_seen():
                    assert any(r.name == "app.svc" for r in ssot_guard.active().records)
            """,
        },
    )
    run = pytest_run(
        root, "-p", "ssot_guard.pytest_plugin", env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert run.returncode == 0, run.out
    assert (
        "mode strict: 0 distinct violations (0 occurrences): 0 new, 0 baselined, 0 not failing"
        in (run.lines)
    )


def test_w_error_and_a_broad_except_still_fail_the_test(tmp_path: Path) -> None:
    # -W error turns the guard's warning into an exception inside the application's
    # ``try``; ``except Exception`` swallows it, and the test must fail all the same.
    root = project(
        tmp_path,
        {
            "app/broad.py": """
                import ssot_guard


                def health():
                    try:
                        ssot_guard.active().violation("SSOT009", subject="app.db", message="gone")
                    except Exception:
                        return "database down"
                    return "ok"
            """,
            "tests/test_app.py": """
                from app.broad import health

                def test_health():
                    assert health() == "database down"
            """,
        },
    )
    run = pytest_run(root, "-W", "error::ssot_guard.SSOTGuardWarning")
    assert run.returncode == 1, run.out
    assert "ssot_guard: 1 violation at error severity during this test (call):" in run.lines
    assert "  SSOT009 missing-import: app.db" in run.lines


def test_baselined_class_and_shim_violations_are_not_raised(tmp_path: Path) -> None:
    # the real raising rules (SSOT004 non-canonical instance, SSOT006 shim use) ask the
    # baseline before raising in strict mode: legacy code keeps working, new code fails
    pyproject = (
        ENABLED + "[tool.ssot_guard.canonical]\n"
        '"app.db.DatabaseManager" = {}\n'
        "[tool.ssot_guard.shims]\n"
        '"app.session.get_factory" = "app.db.make"\n'
    )
    files = {
        "app/db.py": """
            class DatabaseManager:
                pass


            def make():
                return "made"
        """,
        "app/legacy.py": """
            class DatabaseManager:
                pass
        """,
        "app/session.py": "",
        "tests/test_app.py": """
            def test_legacy():
                from app.legacy import DatabaseManager
                from app.session import get_factory

                assert type(DatabaseManager()).__name__ == "DatabaseManager"
                assert get_factory() == "made"
        """,
    }
    root = project(tmp_path, files, pyproject=pyproject)
    raised = pytest_run(root)
    assert raised.returncode == 1, raised.out
    assert "GuardImportError: cannot import name 'get_factory' from 'app.session'" in raised.out
    update = pytest_run(root, "--ssot-guard-update-baseline")
    assert update.returncode == 0, update.out
    entries = json.loads((root / ".ssot-guard-baseline.json").read_text())["violations"]
    assert sorted(entry["rule"] for entry in entries) == ["SSOT004", "SSOT005", "SSOT006"]
    tolerated = pytest_run(root)
    assert tolerated.returncode == 0, tolerated.out
    assert "1 passed" in tolerated.out
