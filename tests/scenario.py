"""Run an import scenario in a fresh interpreter and get structured results back.

Import state is process-global, so every scenario writes its fixture package tree into a
temporary folder and runs a snippet in a new ``python`` process, with or without the guard
installed. The child prints one JSON document on stdout (after a marker line), which
:func:`run` parses into a :class:`Outcome`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "@@SSOT_GUARD_SCENARIO@@"
REPO_ROOT = Path(__file__).resolve().parent.parent

_RUNNER = r"""
import json, sys, traceback, warnings
MARKER = {marker!r}
_settings = json.loads({settings!r})
_snippet = {snippet!r}
warnings.simplefilter("always")
_caught = warnings.catch_warnings(record=True)
_warnings = _caught.__enter__()
guard = None
if _settings is not None:
    import ssot_guard
    guard = ssot_guard.install(**_settings)
result = {{}}
_error = None
_ns = {{"__name__": "__scenario__", "guard": guard, "result": result}}
try:
    exec(compile(_snippet, "<scenario>", "exec"), _ns)
except BaseException as exc:  # report it, do not crash the runner
    _error = {{"type": type(exc).__name__, "message": str(exc),
              "notes": list(getattr(exc, "__notes__", []) or []),
              "mro": [c.__name__ for c in type(exc).__mro__],
              "traceback": traceback.format_exception(exc)}}
_caught.__exit__(None, None, None)
_out = {{
    "result": result,
    "error": _error,
    "warnings": [{{"category": w.category.__name__, "message": str(w.message),
                  "filename": w.filename, "lineno": w.lineno}} for w in _warnings],
    "report": guard.report() if guard is not None and guard.installed else None,
}}
sys.stdout.write("\n" + MARKER + "\n" + json.dumps(_out, default=repr) + "\n")
sys.stdout.flush()
"""


@dataclass
class Outcome:
    """What a scenario printed: the snippet's ``result`` dict, its error, the report."""

    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.report["events"]) if self.report else []

    @property
    def imports(self) -> list[dict[str, Any]]:
        return list(self.report["imports"]) if self.report else []

    def rules(self) -> list[str]:
        return [event["rule"] for event in self.events]

    def events_for(self, rule: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["rule"] == rule]

    def record(self, name: str) -> dict[str, Any]:
        matches = [r for r in self.imports if r["name"] == name]
        assert len(matches) == 1, f"{name}: {len(matches)} records"
        return matches[0]


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``{"pkg/mod.py": source}`` below *root* (sources are dedented)."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSOT_GUARD_", "PYTEST_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    if extra:
        env.update(extra)
    return env


def run(
    tmp_path: Path,
    files: dict[str, str],
    snippet: str,
    *,
    guard: dict[str, Any] | None = None,
    unguarded: bool = False,
    env: dict[str, str] | None = None,
    python_args: tuple[str, ...] = (),
    timeout: float = 60,
) -> Outcome:
    """Run *snippet* in a fresh interpreter with cwd = *tmp_path* holding *files*.

    The guard is installed with *guard* as keyword arguments (``{}`` by default) unless
    *unguarded*. Inside the snippet ``guard`` is the guard (or ``None``) and ``result``
    a dict that comes back as :attr:`Outcome.result`.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_tree(tmp_path, files)
    settings = None if unguarded else (guard if guard is not None else {})
    script = _RUNNER.format(
        marker=MARKER,
        settings=json.dumps(settings),
        snippet=textwrap.dedent(snippet),
    )
    runner = tmp_path / "_scenario_runner.py"
    runner.write_text(script, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, *python_args, str(runner)],
        cwd=tmp_path,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    if MARKER in proc.stdout:
        payload = json.loads(proc.stdout.rsplit(MARKER, 1)[1])
        outcome.result = payload["result"]
        outcome.error = payload["error"]
        outcome.warnings = payload["warnings"]
        outcome.report = payload["report"]
    else:
        raise AssertionError(
            f"scenario printed no result (exit {proc.returncode})\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return outcome


def run_both(
    tmp_path: Path, files: dict[str, str], snippet: str, **kwargs: Any
) -> tuple[Outcome, Outcome]:
    """The same scenario without and with the guard, in two sibling folders."""
    plain = run(tmp_path / "plain", files, snippet, unguarded=True, **kwargs)
    guarded = run(tmp_path / "guarded", files, snippet, **kwargs)
    return plain, guarded
