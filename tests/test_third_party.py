"""Real third-party packages behave identically with and without the guard (SPEC §2, §6).

Every importable module of SQLAlchemy (``orm``, ``ext.*``, dialects, ...) and pydantic is
imported in a fresh interpreter twice, once with the guard installed; both runs import
``ssot_guard`` first so the module sets are comparable. Compared: the keys of
``sys.modules`` and, per module, ``type(__loader__)``, ``type(__spec__.loader)`` and
``sorted(vars(module))``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenario import run

SNIPPET = """
    import importlib, os, pkgutil, sys, types, warnings
    import ssot_guard
    before = set(sys.modules)
    if os.environ.get("SSOT_TEST_GUARD"):
        guard = ssot_guard.install()
    result["install_imported"] = sorted(set(sys.modules) - before)
    warnings.simplefilter("ignore")
    failed = []
    for top in {packages!r}:
        package = importlib.import_module(top)
        names = sorted(info.name for info in pkgutil.walk_packages(
            package.__path__, top + ".", onerror=lambda name: failed.append(name)))
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException as exc:  # optional dependencies missing
                failed.append(name + ": " + type(exc).__name__)
    def kind(value):
        return value.__name__ if isinstance(value, type) else type(value).__name__
    modules = {{}}
    for name, module in sorted(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            modules[name] = [kind(module)]
            continue
        namespace = object.__getattribute__(module, "__dict__")
        spec = namespace.get("__spec__")
        modules[name] = [kind(namespace.get("__loader__")),
                         kind(getattr(spec, "loader", None)),
                         sorted(namespace)]
    result["modules"] = modules
    result["failed"] = sorted(failed)
    if os.environ.get("SSOT_TEST_GUARD"):
        result["records"] = len(guard.records)
        result["internal"] = guard.internal_errors
"""


def _compare(tmp_path: Path, packages: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    snippet = SNIPPET.format(packages=packages)
    plain = run(tmp_path / "plain", {}, snippet, unguarded=True, timeout=180)
    guarded = run(tmp_path / "guarded", {}, snippet, unguarded=True, timeout=180,
                  env={"SSOT_TEST_GUARD": "1"})  # fmt: skip
    assert plain.error is None, plain.error
    assert guarded.error is None, guarded.error
    return plain.result, guarded.result


@pytest.mark.parametrize("packages", [["sqlalchemy"], ["pydantic", "pydantic_core"]])
def test_third_party_packages_identical_with_guard(tmp_path: Path, packages: list[str]) -> None:
    pytest.importorskip(packages[0])
    plain, guarded = _compare(tmp_path, packages)
    assert guarded["internal"] == {}
    assert guarded["failed"] == plain["failed"]
    # Modules that install() itself imports (the rule families' own dependencies) are
    # present in the guarded run whatever the application imports: leave them out.
    own = set(guarded["install_imported"])
    assert plain["install_imported"] == []
    assert not any(name.startswith(tuple(packages)) for name in own)
    guarded_names = sorted(set(guarded["modules"]) - own)
    assert guarded_names == sorted(set(plain["modules"]) - own)
    differences = {
        name: (plain["modules"][name], guarded["modules"][name])
        for name in guarded_names
        if guarded["modules"][name] != plain["modules"][name]
        and name.partition(".")[0] != "ssot_guard"  # the guard's own package
    }
    assert differences == {}
    prefix = tuple(packages)
    imported = [name for name in plain["modules"] if name.startswith(prefix)]
    assert len(imported) > 50  # really exercised the package
    assert guarded["records"] >= len(imported)
    # The original loaders are back everywhere (source files, extensions).
    kinds = {tuple(plain["modules"][name][:2]) for name in imported}
    assert ("SourceFileLoader", "SourceFileLoader") in kinds
    if "pydantic_core" in packages:
        assert ("ExtensionFileLoader", "ExtensionFileLoader") in kinds
