"""``ssot-guard demo``: the golden-path demo of SPEC §8.

The bundled application ``chatapp`` (in ``app/``, written for this demo) reproduces the
incident of SPEC §0: a config/environment cycle swallowed by ``try/except ImportError``, a
WebSocket factory importing a removed name inside a function behind a broad ``except``, a
duplicate ``DatabaseManager``, and a second singleton accessor. The app is copied into a
temporary project folder (so it is first-party there, configured by its own
``pyproject.toml``) and its golden path runs three times, each in a fresh interpreter:
without the guard, with the guard in ``warn`` mode, and in ``strict`` mode. ``demo`` exits 0
only when each run behaved as designed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from .._rules import BY_CODE
from ..render import chain_text

APP_DIR: Final = Path(__file__).resolve().parent / "app"
ENTRY: Final = "chatapp.golden_path"
#: The password in the demo's config: it must never appear in the guard's output.
SECRET: Final = "s3cret-demo-password"
#: The hidden problems the app is built to show, with what each is about.
EXPECTED: Final = {
    "SSOT001": "the config/environment cycle (swallowed by try/except ImportError)",
    "SSOT004": "the duplicate DatabaseManager instantiated",
    "SSOT005": "the duplicate DatabaseManager defined",
    "SSOT006": "the removed get_db_session_factory used through the shim",
    "SSOT007": "the second singleton accessor",
}


@dataclass(slots=True)
class DemoRun:
    """One run of the golden path."""

    title: str
    mode: str | None
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None = None
    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.report["events"]) if self.report else []

    def rules(self) -> set[str]:
        return {event["rule"] for event in self.events}

    @property
    def ok(self) -> bool:
        return all(passed for passed, _ in self.checks)


def prepare(folder: Path) -> Path:
    """Copy the bundled app into *folder*/chatapp-demo and return that project folder."""
    project = folder / "chatapp-demo"
    shutil.copytree(APP_DIR, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # A repository root: configuration discovery stops here (SPEC §5).
    (project / ".git").mkdir(exist_ok=True)
    return project


def _env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSOT_GUARD_")}
    # The app's folder, and wherever this ssot_guard comes from (a source checkout too).
    env["PYTHONPATH"] = os.pathsep.join([str(project), str(Path(__file__).resolve().parents[2])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONWARNINGS", None)
    return env


def run_golden_path(
    project: Path, mode: str | None, report: Path, *, timeout: float = 120
) -> DemoRun:
    """Run the golden path in a fresh interpreter; *mode* ``None`` means no guard at all."""
    if mode is None:
        command = [sys.executable, "-m", ENTRY]
        title = "without the guard"
    else:
        # The real command line: ``ssot-guard run`` (config from the project's pyproject).
        command = [sys.executable, "-m", "ssot_guard.cli", "run", "--mode", mode]
        command += ["--report", str(report), "-m", ENTRY]
        title = f"with the guard in {mode} mode"
    proc = subprocess.run(
        command,
        cwd=project,
        env=_env(project),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
    data: dict[str, Any] | None = None
    if mode is not None and report.is_file():
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(report.read_text(encoding="utf-8"))
    return DemoRun(title, mode, proc.returncode, proc.stdout, proc.stderr, data)


# --------------------------------------------------------------------------- verdicts


def _has(text: str, needle: str) -> bool:
    return needle in text


def judge_plain(run: DemoRun) -> None:
    """Run 1 must show the misleading failure: chat down, the log blaming the database."""
    out, err = run.stdout, run.stderr
    run.checks = [
        (run.returncode == 1, f"exit status 1 (got {run.returncode})"),
        (
            _has(out, "[1/3] user connects: FAILED (ChatUnavailable: database unavailable)"),
            "the WebSocket connection fails with 'database unavailable'",
        ),
        (_has(err, "database health check failed"), "the log blames the database"),
        (
            _has(out, "[2/3] database session: ok"),
            "yet the database session works: the log points the wrong way",
        ),
        (_has(out, "chat: DOWN"), "the chat is down"),
        (_has(out, "rate limit=off"), "rate limiting is silently off (the swallowed cycle)"),
    ]


def _expected_checks(run: DemoRun, severity: str) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for event in run.events:
        by_rule.setdefault(event["rule"], []).append(event)
    for code, what in EXPECTED.items():
        events = by_rule.get(code, [])
        located = all(event.get("location") for event in events)
        graded = all(event.get("severity") == severity for event in events)
        checks.append(
            (
                bool(events) and located and graded,
                f"{code} reported at {severity} with file:line: {what}"
                + ("" if events else " (not reported: is that rule implemented?)"),
            )
        )
    cycle = by_rule.get("SSOT001", [])
    checks.append(
        (
            any(
                [link.get("module") for link in event.get("chain") or []][:2]
                == ["chatapp.config.base", "chatapp.config.environment"]
                for event in cycle
            ),
            "SSOT001 names the chain chatapp.config.base -> chatapp.config.environment",
        )
    )
    return checks


def _no_secret(run: DemoRun) -> tuple[bool, str]:
    report = json.dumps(run.report) if run.report is not None else ""
    leaked = SECRET in report or SECRET in run.stderr or SECRET in run.stdout
    return (not leaked, "no password in the output, the warnings or the report")


def judge_warn(run: DemoRun) -> None:
    """Run 2: the chat works through the shim and every hidden problem is listed."""
    out = run.stdout
    run.checks = [
        (run.returncode == 0, f"exit status 0 (got {run.returncode})"),
        (_has(out, "[1/3] user connects: ok"), "the user connects (through the compat shim)"),
        (_has(out, "chat: working"), "the chat works"),
        (run.report is not None, "the guard wrote its report"),
        *_expected_checks(run, "warn"),
        _no_secret(run),
    ]


def judge_strict(run: DemoRun) -> None:
    """Run 3: a non-zero exit naming each violation."""
    err = run.stderr
    named = all(f"  {code} " in err for code in EXPECTED)
    run.checks = [
        (run.returncode != 0, f"a non-zero exit status (got {run.returncode})"),
        (_has(err, "violation(s) at error severity"), "the run names its violations"),
        (named, "every expected rule is named on stderr"),
        *_expected_checks(run, "error"),
        _no_secret(run),
    ]


# --------------------------------------------------------------------------- rendering


def _heading(stream: TextIO, text: str, char: str = "=") -> None:
    stream.write(f"\n{char * 78}\n{text}\n{char * 78}\n")


def _indent(text: str, prefix: str = "  | ") -> str:
    lines = text.rstrip("\n").splitlines() or ["(nothing)"]
    return "\n".join(prefix + line for line in lines) + "\n"


def _app_log(stderr: str) -> str:
    """The application's own log lines and the strict summary (not the guard's warnings)."""
    keep = [
        line
        for line in stderr.splitlines()
        if line.startswith(("ERROR chatapp", "WARNING chatapp", "INFO chatapp", "ssot-guard:"))
        or (line.startswith("  SSOT") or line.startswith("      chain:"))
    ]
    return "\n".join(keep)


def _rule_name(event: dict[str, Any]) -> str:
    """The rule's name from the rule table (an event's own fields may reuse ``name``)."""
    rule = BY_CODE.get(str(event.get("rule")))
    return rule.name if rule is not None else str(event.get("name", ""))


def event_lines(event: dict[str, Any]) -> list[str]:
    """A violation as the demo prints it: rule, subject, file:line, chain, details."""
    lines = [
        f"{event['rule']} {_rule_name(event)} [{event.get('severity')}]  {event['subject']}",
        f"    at {event.get('location')}"
        + (f"  (x{event['count']})" if event.get("count", 1) > 1 else ""),
    ]
    chain = event.get("chain") or []
    if chain:
        lines.append(f"    chain: {chain_text(chain)}")
    for key in ("canonical", "replacement", "first_location", "suggestion"):
        if event.get(key):
            lines.append(f"    {key.replace('_', ' ')}: {event[key]}")
    if event.get("message"):
        lines.append(f"    {event['message']}")
    return lines


def render_run(stream: TextIO, number: int, run: DemoRun, command: str) -> None:
    _heading(stream, f"Run {number} of 3: the golden path {run.title}")
    stream.write(f"$ {command}\n\nprogram output:\n")
    stream.write(_indent(run.stdout))
    log = _app_log(run.stderr)
    if not run.stdout.strip() and run.stderr.strip():
        # The program did not even start: show why.
        log = "\n".join(run.stderr.rstrip().splitlines()[-12:])
    if log:
        stream.write("log (stderr):\n")
        stream.write(_indent(log))
    stream.write(f"exit status: {run.returncode}\n")
    events = run.events
    if run.mode == "warn":
        stream.write(f"\nhidden problems the guard found ({len(events)}):\n")
        if not events:
            stream.write("  (none)\n")
        for event in events:
            for index, line in enumerate(event_lines(event)):
                stream.write(("  - " if index == 0 else "    ") + line + "\n")
    elif run.mode == "strict":
        codes = ", ".join(sorted({event["rule"] for event in events})) or "none"
        stream.write(f"violations recorded at error severity: {len(events)} ({codes})\n")
    stream.write("\n" + _STORY[run.mode] + "\n")
    if run.ok:
        stream.write(f"\nas designed: yes ({len(run.checks)} checks passed)\n")
    else:
        stream.write("\nas designed: NO\n")
        for passed, text in run.checks:
            stream.write(f"  [{'ok' if passed else 'FAIL'}] {text}\n")


_COMMANDS: Final = {
    None: f"python -m {ENTRY}",
    "warn": f"ssot-guard run --mode warn -m {ENTRY}",
    "strict": f"ssot-guard run --mode strict -m {ENTRY}",
}

_STORY: Final = {
    None: "The chat is down and the log blames the database, yet the database session\n"
    "works. Rate limiting is off and nothing says why.",
    "warn": "The guard changes nothing but the removed name, which the compat shim bridges:\n"
    "the chat works, and every hidden problem is listed with its rule and file:line\n"
    "(rate limiting is still off: warn mode never alters the program; SSOT001 says why).",
    "strict": "Every violation is an error: the run ends with a non-zero status naming each\n"
    "one, so CI fails before production does.",
}


@contextlib.contextmanager
def _workspace(keep: bool) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="ssot-guard-demo-"))
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def demo(stream: TextIO, *, keep: bool = False) -> tuple[int, list[DemoRun]]:
    """Run the three golden paths, print them to *stream*; returns (status, runs)."""
    _heading(stream, "ssot-guard demo: user connects -> database session -> AI reply")
    runs: list[DemoRun] = []
    with _workspace(keep) as folder:
        project = prepare(folder)
        stream.write(
            f"The bundled app 'chatapp' was copied to {project}\n"
            "(its pyproject.toml declares the canonical DatabaseManager as a singleton and a\n"
            "compat shim for the removed chatapp.db.session.get_db_session_factory).\n"
        )
        judges = (judge_plain, judge_warn, judge_strict)
        for number, (mode, judge) in enumerate(
            zip((None, "warn", "strict"), judges, strict=True), 1
        ):
            run = run_golden_path(project, mode, folder / f"report-{mode}.json")
            judge(run)
            runs.append(run)
            render_run(stream, number, run, _COMMANDS[mode])
        if keep:
            stream.write(f"\n(kept {folder}: the app and the reports of runs 2 and 3)\n")
    _heading(stream, "Verdict")
    notes = (
        "without the guard: chat down, and the log blames the database, which works",
        "warn mode: the chat works through the shim; every hidden problem is listed",
        "strict mode: a non-zero exit naming each violation",
    )
    for run, note in zip(runs, notes, strict=True):
        stream.write(f"  [{'ok' if run.ok else 'FAIL'}] {note}\n")
    status = 0 if all(run.ok for run in runs) else 1
    stream.write(
        "\ndemo: all three runs behaved as designed\n"
        if status == 0
        else "\ndemo: some runs did not behave as designed (see [FAIL] above)\n"
    )
    return status, runs


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options to its sub-parser."""
    parser.description = (
        "Run the bundled chat application's golden path (user connects -> database\n"
        "session -> AI reply) three times in fresh interpreters: without the guard (the\n"
        "misleading failure), with the guard in warn mode (the chat works through a compat\n"
        "shim, every hidden problem listed), and in strict mode (a non-zero exit naming\n"
        "each violation)."
    )
    parser.epilog = (
        "examples:\n"
        "  ssot-guard demo\n"
        "  ssot-guard demo --keep   # keep the app copy and the guard's reports\n"
        "\n"
        "exit status: 0 when all three runs behaved as designed, 1 otherwise.\n"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary copy of the app and the guard's reports",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``ssot-guard demo``; returns the exit status."""
    status, _ = demo(sys.stdout, keep=bool(getattr(args, "keep", False)))
    sys.stdout.flush()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ssot_guard._demo``: the command without the ``ssot-guard`` front end."""
    parser = argparse.ArgumentParser(prog="ssot-guard demo")
    add_arguments(parser)
    return run(parser.parse_args(argv))
