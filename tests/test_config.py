"""Configuration sources, precedence, validation messages and the first-party scope (SPEC §1, §5).

Settings are loaded with explicit ``environ`` and ``cwd``, so these tests run in-process;
one scenario checks that ``install()`` surfaces a ``ConfigError`` and nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
import textwrap
from pathlib import Path

import pytest
from scenario import run

from ssot_guard import ConfigError, load_settings
from ssot_guard._guard import Scope

KEYS = "mode, test-mode, packages, rules, canonical, shims, report, deep, check-exclude"


def project(root: Path, toml: str, *, sub: str = "") -> Path:
    """A repository at *root* (``.git``) with a ``pyproject.toml``; returns the cwd to use."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(toml))
    cwd = root / sub if sub else root
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd


def load(cwd: Path, kwargs: dict[str, object] | None = None, **environ: str):  # type: ignore[no-untyped-def]
    return load_settings(kwargs or {}, environ=environ, cwd=cwd)


def error(cwd: Path, kwargs: dict[str, object] | None = None, **environ: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(cwd, kwargs, **environ)
    return str(info.value)


# --------------------------------------------------------------------------- sources


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    settings = load(tmp_path)
    assert settings.mode == "warn" and settings.test_mode == "strict"
    assert settings.packages == () and settings.report is None and settings.deep is False
    assert settings.severities() == {f"SSOT00{i}": "warn" for i in range(1, 10)}
    assert settings.project_root == str(tmp_path.resolve())
    assert settings.config_file is None
    assert set(settings.sources.values()) == {"default"}


def test_nearest_pyproject_with_the_table_walking_up(tmp_path: Path) -> None:
    cwd = project(tmp_path, '[tool.ssot_guard]\nmode = "strict"\npackages = ["app"]\n',
                  sub="services/api")  # fmt: skip
    # A nested pyproject without the table (a sub-package's own) is skipped.
    (tmp_path / "services" / "pyproject.toml").write_text('[project]\nname = "api"\n')
    settings = load(cwd)
    assert (settings.mode, settings.packages) == ("strict", ("app",))
    assert settings.config_file == str(tmp_path / "pyproject.toml")
    assert settings.project_root == str(tmp_path)
    assert settings.sources["mode"] == str(tmp_path / "pyproject.toml")
    assert settings.sources["report"] == "default"


def test_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ssot_guard]\nmode = "strict"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    settings = load(repo / "sub")
    assert settings.mode == "warn" and settings.config_file is None
    assert settings.project_root == str((repo / "sub").resolve())


def test_precedence_kwargs_over_environment_over_pyproject(tmp_path: Path) -> None:
    cwd = project(tmp_path / "p", """
        [tool.ssot_guard]
        mode = "off"
        packages = ["app"]
        [tool.ssot_guard.rules]
        import-cycle = "log"
        double-import = "off"
    """)  # fmt: skip
    env = load(cwd, SSOT_GUARD_MODE="Strict")
    assert env.mode == "strict" and env.sources["mode"] == "environment SSOT_GUARD_MODE"
    assert env.severity("SSOT002") == "log" and env.severity("SSOT001") == "error"
    kw = load(cwd, {"mode": "warn", "rules": {"SSOT003": "error"}}, SSOT_GUARD_MODE="strict")
    assert kw.mode == "warn" and kw.sources["mode"] == "install() argument"
    # Rule overrides merge per rule across sources.
    assert (kw.severity("SSOT002"), kw.severity("SSOT003")) == ("log", "error")
    assert kw.packages == ("app",)


def test_config_file_from_environment_and_argument(tmp_path: Path) -> None:
    cwd = project(tmp_path / "p", """
        [tool.ssot_guard]
        mode = "off"
        packages = ["ignored"]
        report = "guard.json"
        [tool.ssot_guard.shims]
        "app.old" = "app.new"
    """)  # fmt: skip
    project(tmp_path / "q", '[tool.ssot_guard]\nmode = "strict"\npackages = ["q"]\n')
    staging = tmp_path / "etc" / "guard.toml"
    staging.parent.mkdir()
    staging.write_text('mode = "strict"\npackages = ["svc"]\n')
    env = load(cwd, SSOT_GUARD_CONFIG=str(staging))
    # An explicit file layers over the pyproject table: its keys win, the others stay, and
    # the project root stays at the pyproject (not the folder of the staging file).
    assert (env.mode, env.packages, env.config_file) == ("strict", ("svc",), str(staging))
    assert (env.report, list(env.shims)) == ("guard.json", ["app.old"])
    pyproject = str(tmp_path / "p" / "pyproject.toml")
    assert (env.sources["mode"], env.sources["report"]) == (str(staging), pyproject)
    assert env.project_root == str(tmp_path / "p")
    wrapped = tmp_path / "wrapped.toml"
    wrapped.write_text('[tool.ssot_guard]\nmode = "warn"\n')
    arg = load(cwd, {"config": str(wrapped)}, SSOT_GUARD_CONFIG=str(staging))
    assert (arg.mode, arg.packages, arg.report) == ("warn", ("svc",), "guard.json")
    assert arg.config_file == str(wrapped)
    # Without a pyproject table the explicit file's folder is the project root.
    alone = load(tmp_path / "etc", SSOT_GUARD_CONFIG=str(staging))
    assert (alone.project_root, alone.config_file) == (str(staging.parent), str(staging))
    assert alone.report is None
    # A pyproject.toml named explicitly (as the pytest plugin does with its rootdir's) is the
    # project's table: the one found from the working directory is not layered under it.
    named = load(cwd, {"config": str(tmp_path / "q" / "pyproject.toml")})
    assert (named.mode, named.packages, named.report) == ("strict", ("q",), None)
    assert named.project_root == str(tmp_path / "q")


def test_kebab_and_snake_case_keys_and_rule_spellings(tmp_path: Path) -> None:
    cwd = project(tmp_path / "a", """
        [tool.ssot_guard]
        test-mode = "warn"
        check-exclude = ["app.slow"]
        [tool.ssot_guard.rules]
        import-cycle = "log"
        double_import = "off"
        SSOT009 = "error"
    """)  # fmt: skip
    settings = load(cwd)
    assert settings.test_mode == "warn" and settings.check_exclude == ("app.slow",)
    assert dict(settings.rules) == {"SSOT002": "log", "SSOT003": "off", "SSOT009": "error"}
    snake = load(tmp_path / "a", {"test_mode": "off", "check_exclude": []})
    assert snake.test_mode == "off" and snake.check_exclude == ()


def test_canonical_and_shims_tables(tmp_path: Path) -> None:
    cwd = project(tmp_path / "a", """
        [tool.ssot_guard.canonical]
        "app.db.manager.DatabaseManager" = { allow = ["auth_service.db"], singleton = true }
        "app.cache.Cache" = {}
        [tool.ssot_guard.shims]
        "app.db.session.get_factory" = { replacement = "app.db.manager.get_manager", until = 2027-03-31 }
        "app.old.helper" = "app.new.helper"
        "app.old.other" = { replacement = "app.new.other", until = "2027-01-02", message = "use other" }
    """)  # fmt: skip  # noqa: E501
    settings = load(cwd)
    manager = settings.canonical["app.db.manager.DatabaseManager"]
    assert (manager.allow, manager.singleton, manager.module, manager.qualname) == (
        ("auth_service.db",),
        True,
        "app.db.manager",
        "DatabaseManager",
    )
    assert settings.canonical["app.cache.Cache"].singleton is False
    factory = settings.shims["app.db.session.get_factory"]
    assert (factory.replacement, factory.until) == ("app.db.manager.get_manager",
                                                    datetime.date(2027, 3, 31))  # fmt: skip
    assert (factory.module, factory.attribute) == ("app.db.session", "get_factory")
    assert settings.shims["app.old.helper"].until is None
    assert settings.shims["app.old.other"].until == datetime.date(2027, 1, 2)
    assert settings.shims["app.old.other"].message == "use other"


def test_settings_are_immutable(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    settings = load(tmp_path, {"packages": ["app"], "rules": {"import-cycle": "log"}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mode = "strict"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.rules["SSOT001"] = "off"  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.sources["mode"] = "x"  # type: ignore[index]
    assert isinstance(settings.packages, tuple)
    changed = settings.with_mode("strict", "pytest option")
    assert (settings.mode, changed.mode, changed.sources["mode"]) == ("warn", "strict",
                                                                      "pytest option")  # fmt: skip


# --------------------------------------------------------------------------- bad input


def bad(tmp_path: Path, toml: str) -> tuple[str, str]:
    cwd = project(tmp_path / "bad", toml)
    return error(cwd), str(tmp_path / "bad" / "pyproject.toml")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('packges = ["app"]',
         f"unknown key 'packges'; expected one of {KEYS}; did you mean 'packages'?"),
        ("sims = {}", f"unknown key 'sims'; expected one of {KEYS}; did you mean 'shims'?"),
        ("verbose = true", f"unknown key 'verbose'; expected one of {KEYS}"),
        ('packages = "app"', "key 'packages': expected a list of strings, got str"),
        ("packages = [1]", "key 'packages[0]': expected a string, got int"),
        ('packages = ["app-x"]',
         "key 'packages[0]': expected a module name (a dotted Python path such as "
         "'app.db.manager.DatabaseManager'), got 'app-x'"),
        ('mode = "loud"', "key 'mode': expected one of 'off', 'warn', 'strict', got 'loud'"),
        ('mode = "stict"',
         "key 'mode': expected one of 'off', 'warn', 'strict', got 'stict'; "
         "did you mean 'strict'?"),
        ("mode = 1", "key 'mode': expected one of 'off', 'warn', 'strict', got 1"),
        ('test-mode = "x"', "key 'test-mode': expected one of 'off', 'warn', 'strict', got 'x'"),
        ('deep = "yes"', "key 'deep': expected true or false, got 'yes'"),
        ("report = 5", "key 'report': expected a file path, got 5"),
        ("rules = 1", "key 'rules': expected a table, got int"),
        ('[rules]\nimport-cycle = "warning"',
         "key 'rules.import-cycle': expected one of 'off', 'log', 'warn', 'error', got "
         "'warning'; did you mean 'warn'?"),
        ('[rules]\nimport-cycles = "log"',
         "key 'rules.import-cycles': unknown rule; expected a rule name or code such as "
         "'import-cycle' or 'SSOT002'; did you mean 'import-cycle'?"),
        ('[rules]\nSSOT010 = "log"',
         "key 'rules.SSOT010': unknown rule; expected a rule name or code such as "
         "'import-cycle' or 'SSOT002'; did you mean 'SSOT009'?"),
        ('[canonical]\n"app..Db" = {}',
         "key 'canonical.app..Db': expected a class path 'module.Class' (a dotted Python "
         "path such as 'app.db.manager.DatabaseManager'), got 'app..Db'"),
        ('[canonical]\n"Db" = {}',
         "key 'canonical.Db': expected a full class path 'module.Class', got a bare name"),
        ('[canonical]\n"app.Db" = 1', "key 'canonical.app.Db': expected a table, got int"),
        ('[canonical]\n"app.Db" = { alow = [] }',
         "key 'canonical.app.Db.alow': unknown option; expected 'allow' or 'singleton'; "
         "did you mean 'allow'?"),
        ('[canonical]\n"app.Db" = { singleton = "yes" }',
         "key 'canonical.app.Db.singleton': expected true or false, got 'yes'"),
        ('[canonical]\n"app.Db" = { allow = ["x y"] }',
         "key 'canonical.app.Db.allow[0]': expected a module name (a dotted Python path such "
         "as 'app.db.manager.DatabaseManager'), got 'x y'"),
        ('[shims]\n"old" = "app.new"',
         "key 'shims.old': expected 'module.name', got a bare name"),
        ('[shims]\n"app.old" = "not a path"',
         "key 'shims.app.old.replacement': expected the replacement's dotted name (a dotted "
         "Python path such as 'app.db.manager.DatabaseManager'), got 'not a path'"),
        ('[shims]\n"app.old" = { until = 2027-01-01 }',
         "key 'shims.app.old': missing 'replacement'"),
        ('[shims]\n"app.old" = { replacement = "app.new", until = "2027-13-01" }',
         "key 'shims.app.old.until': expected a date YYYY-MM-DD, got '2027-13-01'"),
        ('[shims]\n"app.old" = { replacement = "app.new", until = 5 }',
         "key 'shims.app.old.until': expected a date YYYY-MM-DD, got 5"),
        ('[shims]\n"app.old" = { replacement = "app.new", replace = "x" }',
         "key 'shims.app.old.replace': unknown option; expected one of 'replacement', 'until', "
         "'message'; did you mean 'replacement'?"),
    ],
)  # fmt: skip
def test_bad_pyproject_values(tmp_path: Path, toml: str, expected: str) -> None:
    lines = [("[tool.ssot_guard." + line[1:]) if line.startswith("[") else line
             for line in toml.splitlines()]  # fmt: skip
    message, path = bad(tmp_path, "[tool.ssot_guard]\n" + "\n".join(lines))
    assert message == f"{path}: {expected}"


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    message, path = bad(tmp_path, '[tool.ssot_guard]\nmode = "warn\n')
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in message


def test_tool_table_of_wrong_type(tmp_path: Path) -> None:
    message, path = bad(tmp_path, "[tool]\nssot_guard = 1\n")
    assert message == f"{path}: key 'tool.ssot_guard': expected a table, got int"


def test_missing_and_unreadable_config_files(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    missing = tmp_path / "nope.toml"
    assert error(tmp_path, SSOT_GUARD_CONFIG=str(missing)) == (
        f"{missing}: configuration file not found"
    )
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert error(tmp_path, {"config": str(folder)}) == (
        f"{folder}: cannot read configuration file (Is a directory)"
    )
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"mode = \xff\n")
    assert error(tmp_path, SSOT_GUARD_CONFIG=str(broken)).startswith(f"{broken}: not valid TOML: ")


def test_bad_values_in_explicit_files_name_their_source(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    other = tmp_path / "guard.toml"
    other.write_text('mode = "lax"\n')
    assert error(tmp_path, SSOT_GUARD_CONFIG=str(other)) == (
        f"{other} (from SSOT_GUARD_CONFIG): key 'mode': expected one of 'off', 'warn', "
        "'strict', got 'lax'"
    )
    assert error(tmp_path, {"config": str(other)}) == (
        f"{other} (install() argument 'config'): key 'mode': expected one of 'off', 'warn', "
        "'strict', got 'lax'"
    )


def test_bad_environment_mode_and_kwargs(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert error(tmp_path, SSOT_GUARD_MODE="warnn") == (
        "environment SSOT_GUARD_MODE: key 'mode': expected one of 'off', 'warn', 'strict', "
        "got 'warnn'; did you mean 'warn'?"
    )
    assert error(tmp_path, {"mod": "warn"}) == (
        f"install() argument: unknown key 'mod'; expected one of {KEYS}; did you mean 'mode'?"
    )
    assert error(tmp_path, {"packages": ("app", 3)}) == (
        "install() argument: key 'packages[1]': expected a string, got int"
    )
    assert error(tmp_path, {"rules": {"SSOT002": True}}) == (
        "install() argument: key 'rules.SSOT002': expected one of 'off', 'log', 'warn', "
        "'error', got True"
    )


def test_install_raises_config_error_without_a_deep_traceback(tmp_path: Path) -> None:
    files = {
        ".git/keep": "",
        "pyproject.toml": '[tool.ssot_guard]\nmode = "strct"\n',
    }
    snippet = """
        import sys, ssot_guard, traceback
        before = list(sys.meta_path)
        try:
            ssot_guard.install()
        except ssot_guard.ConfigError as exc:
            result["message"] = str(exc)
            result["cause"] = exc.__cause__ is None and exc.__suppress_context__ in (True, False)
            result["is_value_error"] = isinstance(exc, ValueError)
        result["meta_path"] = sys.meta_path == before
        result["active"] = ssot_guard.active()
    """
    out = run(tmp_path, files, snippet, unguarded=True)
    assert out.result == {
        "message": f"{tmp_path / 'pyproject.toml'}: key 'mode': expected one of 'off', 'warn', "
        "'strict', got 'strct'; did you mean 'strict'?",
        "cause": True,
        "is_value_error": True,
        "meta_path": True,
        "active": None,
    }


# --------------------------------------------------------------------------- first party


def test_first_party_by_packages() -> None:
    scope = Scope(("app", "auth_service"), "/nowhere")
    assert scope.is_first_party("app", None)
    assert scope.is_first_party("app.db.manager", "/site-packages/app/db/manager.py")
    assert scope.is_first_party("auth_service.db", None)
    assert not scope.is_first_party("application", "/nowhere/application.py")
    assert not scope.is_first_party("json", "/nowhere/json.py")


def test_first_party_by_project_root(tmp_path: Path) -> None:
    root = str(tmp_path)
    scope = Scope((), root)
    assert scope.is_first_party("app.x", f"{root}/app/x.py")
    assert scope.is_first_party("tool", f"{root}/tools/tool.py")
    assert not scope.is_first_party("dep", f"{root}/.venv/lib/python3.11/site-packages/dep.py")
    assert not scope.is_first_party("dep", f"{root}/env/lib/python3/dist-packages/dep.py")
    assert not scope.is_first_party("other", "/elsewhere/other.py")
    assert not scope.is_first_party("sibling", f"{root}-sibling/x.py")
    for special in ("built-in", "frozen", "namespace", "unknown", "<string>"):
        assert not scope.is_first_party("x", special)
    # The running interpreter's own environment is never first party, even below the root.
    venv = Scope((), os.path.dirname(sys.prefix))
    assert not venv.is_first_party("x", os.path.join(sys.prefix, "lib", "x.py"))
    # A relative origin (a relative sys.path entry) is resolved against the working directory.
    here = Scope((), os.getcwd())
    assert here.is_first_party("rel", os.path.join("pkg", "rel.py"))


def test_project_root_is_the_configuring_pyproject_folder(tmp_path: Path) -> None:
    cwd = project(tmp_path / "repo", '[tool.ssot_guard]\nmode = "warn"\n', sub="src/deep")
    assert load(cwd).project_root == str(tmp_path / "repo")
