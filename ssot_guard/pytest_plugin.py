"""pytest plugin: strict mode in test runs (SPEC §9). Inert unless enabled.

Enabled by ``[tool.ssot_guard]`` in the project's ``pyproject.toml``, ``--ssot-guard[=MODE]``,
``SSOT_GUARD_MODE`` or ``SSOT_GUARD_CONFIG``; ``-p no:ssot_guard.pytest_plugin`` disables it.
Until it is enabled this module only adds its options, its marker and the ``ssot_events``
fixture: the hooks that do the work live on :class:`SessionPlugin`, registered only when the
guard is installed (the pattern of pytest-cov).

Failing tests whose application code swallowed the violation follows pytest's own
``unraisableexception`` plugin: a guard listener collects ``error``-severity events into the
bucket of the running phase (start-up, a collector, a test's setup/call/teardown, the
session), and a wrapper around that phase fails it when the bucket is not empty.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, overload

import pytest

if TYPE_CHECKING:
    from ._baseline import Entry, Fingerprint
    from ._events import ChainLink, Event
    from ._guard import Guard

PLUGIN_NAME: Final = "ssot_guard.session"
MARKER: Final = "ssot_guard"
_MODES: Final = ("off", "warn", "strict")
_HINT: Final = (
    "(known violations of a legacy codebase go in the baseline: --ssot-guard-update-baseline; "
    "lower a rule for one test: @pytest.mark.ssot_guard(rules={{'{rule}': 'log'}}))"
)
_FIELDS: Final = ("canonical", "replacement", "first_location", "suggestion")


# --------------------------------------------------------------------------- fixture type


class EventsCapture(Sequence["Event"]):
    """The guard's events raised during one test, for the ``ssot_events`` fixture.

    A list of :class:`ssot_guard.Event` in first-seen order (each distinct event once; a
    repeat at the same location increments its ``count``), with helpers in the manner of
    ``caplog``. :meth:`clear` also withdraws the events' pending test failure: assert on an
    expected violation, then clear it.
    """

    def __init__(self, forget: Callable[[list[Event]], None] | None = None) -> None:
        self._events: list[Event] = []
        self._forget = forget

    def _add(self, event: Event) -> None:
        if not any(known is event for known in self._events):
            self._events.append(event)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self._events[index]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self._events))

    def __repr__(self) -> str:
        return f"<ssot_events {[f'{e.rule} {e.subject}' for e in self._events]}>"

    @property
    def rules(self) -> list[str]:
        """The rule codes of the events, in order (``["SSOT002", ...]``)."""
        return [event.rule for event in self._events]

    @property
    def subjects(self) -> list[str]:
        return [event.subject for event in self._events]

    def for_rule(self, rule: str) -> list[Event]:
        """The events of one rule, given by code (``SSOT002``) or name (``import-cycle``)."""
        from ._rules import lookup

        found = lookup(rule)
        if found is None:
            raise ValueError(f"unknown rule {rule!r}")
        return [event for event in self._events if event.rule == found.code]

    def clear(self) -> None:
        """Forget the events captured so far, including the test failure they would cause."""
        if self._forget is not None:
            self._forget(list(self._events))
        self._events.clear()


_CAPTURE: Final = pytest.StashKey[EventsCapture]()
_SEVERITIES: Final = pytest.StashKey[contextlib.ExitStack]()
_SESSION: Final = pytest.StashKey["SessionPlugin"]()


# --------------------------------------------------------------------------- module hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ssot_guard", "ssot_guard: single-source-of-truth guard")
    group.addoption(
        "--ssot-guard",
        dest="ssot_guard",
        nargs="?",
        const="",
        default=None,
        metavar="MODE",
        help="enable the guard for this run; MODE is off, warn or strict (default: test-mode "
        "of [tool.ssot_guard], else strict). Write --ssot-guard=MODE: a bare --ssot-guard "
        "followed by a path would take the path as MODE.",
    )
    group.addoption(
        "--ssot-guard-baseline",
        dest="ssot_guard_baseline",
        default=None,
        metavar="PATH",
        help="baseline file of known violations (default: .ssot-guard-baseline.json in the "
        "rootdir, when present).",
    )
    group.addoption(
        "--ssot-guard-update-baseline",
        dest="ssot_guard_update_baseline",
        action="store_true",
        default=False,
        help="rewrite the baseline with the violations of this run (reasons are kept).",
    )
    group.addoption(
        "--ssot-guard-strict-baseline",
        dest="ssot_guard_strict_baseline",
        action="store_true",
        default=False,
        help="fail the run when the baseline lists violations that no longer occur.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Install before conftests and application modules are imported (SPEC §9)."""
    _start(early_config, early_config.known_args_namespace)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(rules={{'import-cycle': 'log'}}): change ssot_guard rule severities "
        "for this test (rule names or codes; off, log, warn, error).",
    )
    plugin = config.stash.get(_SESSION, None)
    if plugin is None:
        # Loaded late (``pytest_plugins`` in a conftest, which never sees
        # ``pytest_load_initial_conftests``): install now.
        _start(config, config.option)
    else:
        # Plugins loaded since may have put their own finders at index 0 (NOTES P13).
        plugin.guard.move_to_front()


@pytest.fixture
def ssot_events(request: pytest.FixtureRequest) -> Iterator[EventsCapture]:
    """The guard's events raised during this test (setup, call and teardown).

    ``ssot_events.rules``, ``.subjects``, ``.for_rule(code)``, ``.clear()``; iterating
    yields :class:`ssot_guard.Event` objects. Without the plugin enabled it listens to a
    guard the test session installed itself, if any.
    """
    capture = request.node.stash.get(_CAPTURE, None)
    if capture is not None:
        yield capture
        return
    from ._guard import active

    capture = EventsCapture()
    guard = active()
    if guard is None:
        yield capture
        return

    def listen(event: Event, is_new: bool) -> None:
        capture._add(event)

    guard.add_listener(listen)
    try:
        yield capture
    finally:
        guard.remove_listener(listen)


# --------------------------------------------------------------------------- start-up


def _start(config: pytest.Config, options: Any) -> None:
    if config.stash.get(_SESSION, None) is not None:
        return
    resolved = _resolve(config, options)
    if resolved is None:
        if getattr(options, "ssot_guard_update_baseline", False):
            raise pytest.UsageError(
                "--ssot-guard-update-baseline: the guard is not enabled for this run "
                "(add [tool.ssot_guard] to pyproject.toml, pass --ssot-guard or set "
                "SSOT_GUARD_MODE)"
            )
        return
    mode, kwargs = resolved
    baseline_path, baseline = _load_baseline(config, options)

    import ssot_guard

    from ._errors import ConfigError

    existing = ssot_guard.active()
    try:
        if existing is None:
            guard = ssot_guard.install(mode=mode, **kwargs)
            owned = True
        else:
            guard, owned = existing, False
    except ConfigError as error:
        raise pytest.UsageError(f"ssot_guard: {error}") from None
    plugin = SessionPlugin(
        config,
        guard,
        owned=owned,
        mode=mode,
        baseline_path=baseline_path,
        baseline=baseline,
        update=bool(getattr(options, "ssot_guard_update_baseline", False)),
        strict_baseline=bool(getattr(options, "ssot_guard_strict_baseline", False)),
    )
    config.stash[_SESSION] = plugin
    config.add_cleanup(plugin.close)
    plugin.open()
    config.pluginmanager.register(plugin, PLUGIN_NAME)


def _resolve(config: pytest.Config, options: Any) -> tuple[str, dict[str, Any]] | None:
    """The mode and ``install()`` arguments for this run, or ``None`` when inert."""
    cli = getattr(options, "ssot_guard", None)
    env_mode = os.environ.get("SSOT_GUARD_MODE", "").strip()
    env_config = os.environ.get("SSOT_GUARD_CONFIG", "").strip()
    explicit = cli is not None or bool(env_mode) or bool(env_config)
    if not explicit and not _mentions_guard(Path(config.rootpath)):
        return None  # the common inert case: no TOML parsing, no further imports

    from ._config import DEFAULT_SOURCE, find_pyproject, load_settings
    from ._errors import ConfigError

    found = None
    if not env_config:
        try:
            found = find_pyproject(Path(config.rootpath))
        except ConfigError as error:
            if not explicit:
                return None  # a broken pyproject.toml is not ours to report when inert
            raise pytest.UsageError(f"ssot_guard: {error}") from None
    if not explicit and found is None:
        return None
    if cli and cli not in _MODES:
        raise pytest.UsageError(
            f"--ssot-guard: expected one of {', '.join(_MODES)}, got {cli!r} "
            "(write --ssot-guard=MODE; a bare --ssot-guard followed by a path takes the path "
            "as the mode)"
        )
    kwargs: dict[str, Any] = {"config": str(found[0])} if found is not None else {}
    try:
        # validated as found from the rootdir, so errors name the file, not an argument
        settings = load_settings({}, cwd=config.rootpath)
    except ConfigError as error:
        raise pytest.UsageError(f"ssot_guard: {error}") from None
    if cli:
        mode = cli
    elif settings.sources.get("mode", "").startswith("environment"):
        mode = settings.mode  # SSOT_GUARD_MODE names the mode of this very run
    elif settings.mode == "off" and settings.sources.get("test_mode") == DEFAULT_SOURCE:
        mode = "off"  # the kill switch holds in test runs too, unless test-mode says otherwise
    else:
        mode = settings.test_mode
    if mode == "off":
        return None
    return mode, kwargs


def _mentions_guard(start: Path) -> bool:
    """Cheap pre-check: does a ``pyproject.toml`` up to the repository root name ssot_guard?"""
    for folder in (start, *start.parents):
        try:
            text = (folder / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if "ssot_guard" in text:
            return True
        if (folder / ".git").exists() or (folder / ".hg").exists():
            return False
    return False


def _load_baseline(
    config: pytest.Config, options: Any
) -> tuple[Path | None, dict[Fingerprint, Entry]]:
    from . import _baseline

    update = bool(getattr(options, "ssot_guard_update_baseline", False))
    explicit = getattr(options, "ssot_guard_baseline", None)
    if explicit:
        path = Path(config.invocation_params.dir, explicit)
    else:
        path = Path(config.rootpath, _baseline.DEFAULT_NAME)
        if not path.exists():
            return (path if update else None), {}
    if update and not path.exists():
        return path, {}
    try:
        return path, _baseline.load(path)
    except _baseline.BaselineError as error:
        raise pytest.UsageError(f"ssot_guard baseline: {error}") from None


# --------------------------------------------------------------------------- the session


@dataclass(eq=False)
class _Phase:
    """Where events are attributed: start-up, a collector, a test phase, the session."""

    where: str
    scope: str  # "session", "collect" or "test"
    errors: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if not any(known is event for known in self.errors):
            self.errors.append(event)


@dataclass(eq=False)
class _Seen:
    """What the plugin knows about one distinct event of this process."""

    event: Event
    where: str
    scope: str
    error: bool = False
    failing: bool = False
    session_failure: bool = False

    def as_dict(self) -> dict[str, Any]:
        event = self.event
        return {
            "rule": event.rule,
            "name": event.name,
            "subject": event.subject,
            "attribute": event.fields.get("attribute"),
            "module": _module_of(event),
            "location": event.location,
            "chain": [link.as_dict() for link in event.chain],
            "message": event.message,
            "count": event.count,
            "where": self.where,
            "scope": self.scope,
            "error": self.error,
            "failing": self.failing,
            "session_failure": self.session_failure,
        }


class SessionPlugin:
    """The plugin's working half, registered only when the guard is enabled."""

    def __init__(
        self,
        config: pytest.Config,
        guard: Guard,
        *,
        owned: bool,
        mode: str,
        baseline_path: Path | None,
        baseline: dict[Fingerprint, Entry],
        update: bool,
        strict_baseline: bool,
    ) -> None:
        self.config = config
        self.guard = guard
        self.owned = owned
        self.mode = mode
        self.baseline_path = baseline_path
        self.baseline = baseline
        self.update = update
        self.strict_baseline = strict_baseline
        self._startup = _Phase("pytest start-up", "session")
        self._session = _Phase("the test session", "session")
        self._phase = self._startup
        self._seen: dict[tuple[str, str, str | None], _Seen] = {}
        self._capture: EventsCapture | None = None
        self._remote: list[dict[str, Any]] = []
        self._remote_internal: dict[str, str] = {}
        self._saved: dict[str, str] | None = None
        self._summary: list[tuple[str, dict[str, bool]]] = []

    @property
    def worker(self) -> bool:
        """A pytest-xdist worker (``workerinput`` is set after start-up, so ask late)."""
        return hasattr(self.config, "workerinput")

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> None:
        from ._rules import RULES

        guard = self.guard
        if not self.owned and guard.mode != self.mode:
            # A guard installed before pytest started: apply this run's mode to it.
            self._saved = {rule.code: guard.severity(rule.code) for rule in RULES}
            for rule, severity in (
                guard.settings.with_mode(self.mode, "pytest").severities().items()
            ):
                guard.set_severity(rule, severity)
        guard.move_to_front()
        guard.set_tolerance(self.tolerates)
        guard.add_listener(self.on_event)
        for event in list(guard.events):  # recorded before the listener existed
            self.on_event(event, True)

    def close(self) -> None:
        import ssot_guard

        self.guard.remove_listener(self.on_event)
        self.guard.set_tolerance(None)
        if self._saved is not None:
            for rule, severity in self._saved.items():
                self.guard.set_severity(rule, severity)
        if self.owned and ssot_guard.active() is self.guard:
            ssot_guard.uninstall()

    # ---------------------------------------------------------------- events

    def tolerates(
        self, code: str, subject: str, chain: tuple[ChainLink, ...], attribute: str | None
    ) -> bool:
        """Guard tolerance: baselined violations (all, while updating) are not raised."""
        import sys

        from ._baseline import fingerprint, match
        from ._frames import user_location

        if self.update:
            return True
        location = user_location(sys._getframe(1))  # the user code the rule is raising into
        module = location.module if location is not None else None
        return (
            match(self.baseline, fingerprint(code, subject, chain, attribute, module)) is not None
        )

    def on_event(self, event: Event, is_new: bool) -> None:
        """Guard listener: attribute each occurrence to the running phase."""
        from ._baseline import fingerprint, match

        phase = self._phase
        seen = self._seen.get(event.key)
        if seen is None:
            seen = self._seen[event.key] = _Seen(event, phase.where, phase.scope)
        capture = self._capture
        if capture is not None:
            capture._add(event)
        # The stored event keeps the severity of its first occurrence; what counts is the
        # severity now (a marker may have changed it for this test).
        if self.guard.severity(event.rule) != "error":
            return
        seen.error = True
        attribute = event.fields.get("attribute")
        fp = fingerprint(event.rule, event.subject, event.chain, attribute, _module_of(event))
        if match(self.baseline, fp) is not None:
            return
        seen.failing = True
        if self.update:
            return
        phase.add(event)
        if phase.scope == "session":
            seen.session_failure = True

    def _forget(self, events: list[Event]) -> None:
        """``ssot_events.clear()``: the test acknowledged these events."""
        errors = self._phase.errors
        for event in events:
            errors[:] = [known for known in errors if known is not event]
            seen = self._seen.get(event.key)
            if seen is not None:
                seen.failing = False

    @contextlib.contextmanager
    def _within(self, where: str, scope: str) -> Iterator[_Phase]:
        phase = _Phase(where, scope)
        previous, self._phase = self._phase, phase
        try:
            yield phase
        finally:
            self._phase = previous

    def _failure_text(self, errors: list[Event], what: str) -> str:
        count = len(errors)
        lines = [
            f"ssot_guard: {count} violation{'s' if count != 1 else ''} at error severity {what}:"
        ]
        for event in errors:
            lines.extend("  " + line for line in _describe(event))
        lines.append(_HINT.format(rule=errors[0].name))
        return "\n".join(lines)

    # ---------------------------------------------------------------- session hooks

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.guard.move_to_front()
        self._phase = self._session

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        where = collector.nodeid or "the session's collection"
        with self._within(f"collection of {where}", "collect") as phase:
            report = yield
        if phase.errors:
            text = self._failure_text(phase.errors, f"while collecting {where}")
            if report.outcome == "failed":
                report.sections.append(("ssot_guard", text))
            else:
                report.outcome = "failed"
                report.longrepr = text
                report.result = []
        return report

    def _phase_wrapper(self, item: pytest.Item, when: str) -> Generator[None, object, object]:
        with self._within(f"{item.nodeid} ({when})", "test") as phase:
            try:
                result = yield
            except BaseException as error:
                if phase.errors and isinstance(error, Exception | pytest.fail.Exception):
                    error.add_note(self._failure_text(phase.errors, f"during this test ({when})"))
                elif phase.errors and isinstance(error, pytest.skip.Exception):
                    pytest.fail(
                        self._failure_text(phase.errors, f"during this test ({when})"),
                        pytrace=False,
                    )
                raise
        if phase.errors:
            __tracebackhide__ = True
            pytest.fail(
                self._failure_text(phase.errors, f"during this test ({when})"), pytrace=False
            )
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        capture = EventsCapture(self._forget)
        item.stash[_CAPTURE] = capture
        self._capture = capture
        stack = contextlib.ExitStack()
        item.stash[_SEVERITIES] = stack
        overrides = _marker_overrides(item)
        if overrides:
            stack.enter_context(self.guard.severities(overrides))
        return (yield from self._phase_wrapper(item, "setup"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase_wrapper(item, "call"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        try:
            return (yield from self._phase_wrapper(item, "teardown"))
        finally:
            stack = item.stash.get(_SEVERITIES, None)
            if stack is not None:
                stack.close()
            self._capture = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist controller: merge a worker's events (crashed workers send none)."""
        data = getattr(node, "workeroutput", {}).get("ssot_guard")
        if isinstance(data, dict) and data.get("version") == 1:
            self._remote.extend(data.get("records", []))
            self._remote_internal.update(data.get("internal_errors", {}))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        records = [seen.as_dict() for seen in list(self._seen.values())]
        internal = self.guard.internal_errors
        if self.worker:
            output: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
            output["ssot_guard"] = {
                "version": 1,
                "records": records,
                "internal_errors": internal,
            }
            return
        internal.update(self._remote_internal)
        merged = _merge(records + self._remote)
        failed = self._decide(merged, internal)
        if failed and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        terminalreporter.write_sep("=", "ssot_guard")
        for line, markup in self._summary:
            terminalreporter.write_line(line, **markup)

    # ---------------------------------------------------------------- decisions

    def _decide(self, records: list[dict[str, Any]], internal: dict[str, str]) -> bool:
        """Build the summary, apply the baseline; ``True`` when the session must fail."""
        from . import _baseline
        from ._rules import BY_CODE

        out = self._summary
        red, yellow, green = {"red": True}, {"yellow": True}, {"green": True}
        occurred: set[Fingerprint] = set()
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for record in records:
            fp = _fingerprint(record)
            known = _baseline.match(self.baseline, fp)
            occurred.add(fp if known is None else known)
            if record["failing"]:
                kind = "new"
            elif record["error"] and known is not None:
                kind = "baselined"
            else:
                kind = "not failing"
            groups.setdefault(record["rule"], {}).setdefault(kind, []).append(record)
        stale = sorted(fp for fp in self.baseline if fp not in occurred)
        new_total = sum(len(kinds.get("new", ())) for kinds in groups.values())
        base_total = sum(len(kinds.get("baselined", ())) for kinds in groups.values())
        other_total = sum(len(kinds.get("not failing", ())) for kinds in groups.values())
        occurrences = sum(int(record["count"]) for record in records)
        new_label = "added to the baseline" if self.update else "new"
        out.append(
            (
                f"mode {self.mode}: {len(records)} distinct violation"
                f"{'s' if len(records) != 1 else ''} ({occurrences} occurrence"
                f"{'s' if occurrences != 1 else ''}): {new_total} {new_label}, "
                f"{base_total} baselined, {other_total} not failing",
                red if new_total and not self.update else {},
            )
        )
        for code in sorted(groups):
            kinds = groups[code]
            counts = ", ".join(
                f"{len(kinds[kind])} {new_label if kind == 'new' else kind}"
                for kind in ("new", "baselined", "not failing")
                if kind in kinds
            )
            out.append((f"{code} {BY_CODE[code].name}: {counts}", {"bold": True}))
            for kind in ("new", "baselined", "not failing"):
                for record in sorted(kinds.get(kind, ()), key=_sort_key):
                    markup = red if kind == "new" and not self.update else {}
                    out.extend((line, markup) for line in _record_lines(kind.upper(), record))
        failed = False
        if not self.update and any(r["session_failure"] and r["failing"] for r in records):
            out.append(("violations outside any test fail the session (see above)", red))
            failed = True
        if internal:
            for feature, error in sorted(internal.items()):
                out.append((f"internal error in the guard's {feature}: {error}", yellow))
            if self.mode == "strict":
                out.append(("internal errors fail the run in strict mode", red))
                failed = True
        shown = self._shown_path()
        if self.update and self.baseline_path is not None:
            keep = {fp: entry for fp, entry in self.baseline.items() if fp in occurred}
            for record in records:
                fp = _fingerprint(record)
                if record["failing"] and _baseline.match(keep, fp) is None:
                    keep[fp] = _baseline.Entry.of(fp)
            _baseline.write(self.baseline_path, keep.values())
            added = len([fp for fp in keep if fp not in self.baseline])
            out.append(
                (
                    f"baseline {shown} written: {len(keep)} entr{'ies' if len(keep) != 1 else 'y'}"
                    f" ({added} added, {len(stale)} stale removed)",
                    green,
                )
            )
            return failed
        if self.baseline_path is not None:
            out.append(
                (
                    f"baseline {shown}: {len(self.baseline)} entr"
                    f"{'ies' if len(self.baseline) != 1 else 'y'}, {base_total} matched, "
                    f"{len(stale)} stale",
                    {},
                )
            )
        for rule, subject, attribute, module, chain in stale:
            text = f"  {'STALE':<11} {rule} {BY_CODE[rule].name}: {subject}"
            if attribute:
                text += f" '{attribute}'"
            if module:
                text += f" in {module}"
            if chain:
                text += f"  chain {' -> '.join(chain)}"
            out.append((text, red if self.strict_baseline else yellow))
        if stale:
            if self.strict_baseline:
                out.append(
                    ("stale baseline entries fail the run (--ssot-guard-strict-baseline)", red)
                )
                failed = True
            else:
                out.append(("remove stale entries with --ssot-guard-update-baseline", {}))
        return failed

    def _shown_path(self) -> str:
        if self.baseline_path is None:
            return "-"
        try:
            return str(self.baseline_path.relative_to(self.config.rootpath))
        except ValueError:
            return str(self.baseline_path)


# --------------------------------------------------------------------------- helpers


def _describe(event: Event) -> list[str]:
    attribute = event.fields.get("attribute")
    head = f"{event.rule} {event.name}: {event.subject}"
    lines = [f"{head} '{attribute}'" if isinstance(attribute, str) else head]
    if event.message:
        lines.append(f"  {event.message}")
    if event.location:
        lines.append(f"  at {event.location}")
    if event.chain:
        lines.append(f"  chain: {event.chain_text()}")
    for key in _FIELDS:
        value = event.fields.get(key)
        if isinstance(value, str) and value:
            lines.append(f"  {key.replace('_', ' ')}: {value}")
    return lines


def _fingerprint(record: dict[str, Any]) -> Fingerprint:
    from ._baseline import fingerprint

    return fingerprint(
        record["rule"],
        record["subject"],
        record["chain"],
        record.get("attribute"),
        record.get("module"),
    )


def _module_of(event: Event) -> str | None:
    """The module whose code triggered *event* (part of the baseline fingerprint)."""
    origin = event.origin
    return origin[2] if origin is not None and isinstance(origin[2], str) else None


def _chain_text(chain: list[dict[str, Any]]) -> str:
    parts = []
    for link in chain:
        location = link.get("location")
        parts.append(f"{link.get('module')} ({location})" if location else str(link.get("module")))
    return " -> ".join(parts)


def _record_lines(kind: str, record: dict[str, Any]) -> list[str]:
    text = f"  {kind:<11} {record['subject']}"
    if isinstance(record.get("attribute"), str):
        text += f" '{record['attribute']}'"
    if record.get("location"):
        text += f" at {record['location']}"
    text += f"  [{int(record['count'])}x, first in {record['where']}]"
    if not record.get("chain"):
        return [text]
    return [text, f"  {'':<11} chain: {_chain_text(record['chain'])}"]


def _sort_key(record: dict[str, Any]) -> tuple[str, str]:
    return (str(record["subject"]), str(record.get("location") or ""))


def _merge(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (rule, subject, location) across processes; test counts add up."""
    merged: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for record in records:
        key = (record["rule"], record["subject"], record.get("location"))
        known = merged.get(key)
        if known is None:
            merged[key] = dict(record)
            continue
        if known["scope"] == "test" or record["scope"] == "test":
            known["count"] = int(known["count"]) + int(record["count"])
        else:  # start-up and collection run in every xdist process: not extra occurrences
            known["count"] = max(int(known["count"]), int(record["count"]))
        for flag in ("error", "failing", "session_failure"):
            known[flag] = bool(known[flag]) or bool(record[flag])
    return list(merged.values())


def _marker_overrides(item: pytest.Item) -> dict[str, str]:
    """Severities from ``@pytest.mark.ssot_guard(rules={...})``; the closest mark wins."""
    from ._rules import SEVERITIES, lookup

    overrides: dict[str, str] = {}
    for mark in reversed(list(item.iter_markers(MARKER))):
        unknown = [key for key in mark.kwargs if key != "rules"]
        if mark.args or unknown:
            pytest.fail(
                "@pytest.mark.ssot_guard: expected only rules={'rule-name': 'severity'}, got "
                f"{'positional arguments' if mark.args else 'keyword ' + repr(unknown[0])}",
                pytrace=False,
            )
        rules = mark.kwargs.get("rules", {})
        if not isinstance(rules, dict):
            pytest.fail("@pytest.mark.ssot_guard: rules must be a dict", pytrace=False)
        for name, severity in rules.items():
            rule = lookup(str(name))
            if rule is None:
                pytest.fail(f"@pytest.mark.ssot_guard: unknown rule {name!r}", pytrace=False)
            if severity not in SEVERITIES:
                pytest.fail(
                    f"@pytest.mark.ssot_guard: rule {name!r}: expected one of "
                    f"{', '.join(SEVERITIES)}, got {severity!r}",
                    pytrace=False,
                )
            overrides[rule.code] = severity
    return overrides
