"""The guard: install/uninstall, the import records, event dispatch and the report."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Container, Iterator
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from ._config import KWARG_SOURCE, Settings, load_settings
from ._errors import ConfigError
from ._events import ChainLink, Event, EventStore
from ._frames import (
    CALL_REMOVED,
    IMPORT_NAME,
    INTERNAL,
    Location,
    format_location,
    transparent,
    user_frame,
    user_location,
)
from ._participant import Participant
from ._policy import Policy
from ._records import (
    ExecFrame,
    ImportRecord,
    ThreadState,
    module_dict,
    new_frame,
    now_ns,
    spec_origin,
)

if TYPE_CHECKING:
    # The finder and loader proxy need wrapt, which a guard with ``mode="off"`` (the kill
    # switch) never imports: _install() imports them.
    from ._hook import GuardFinder

REPORT_SCHEMA: Final = "ssot_guard.report/1"

_get_ident = threading.get_ident

Listener = Callable[[Event, bool], None]
Tolerance = Callable[[str, str, tuple[ChainLink, ...], str | None], bool]


#: ``origin`` values that are not file names (SPEC §3.1).
_NOT_FILES: Final = frozenset({"built-in", "frozen", "namespace", "unknown"})


class Scope:
    """Decides which modules are first-party (SPEC §1)."""

    def __init__(self, packages: tuple[str, ...], root: str) -> None:
        self.packages = packages
        self._names = frozenset(packages)
        self._prefixes = tuple(package + "." for package in packages)
        self.root = root.rstrip(os.sep) + os.sep
        excluded = {sys.prefix, sys.base_prefix, sys.exec_prefix}
        self._excluded = tuple(p.rstrip(os.sep) + os.sep for p in excluded if p)

    def is_first_party(self, name: str, origin: str | None) -> bool:
        if self.packages:
            return name in self._names or name.startswith(self._prefixes)
        return self.path_is_first_party(origin)

    def path_is_first_party(self, origin: str | None) -> bool:
        if not origin:
            return False
        if not origin.startswith(self.root):
            # Relative origins come from relative sys.path entries (resolved against cwd).
            if origin in _NOT_FILES or origin[0] == "<" or os.path.isabs(origin):
                return False
            origin = os.path.abspath(origin)
            if not origin.startswith(self.root):
                return False
        if origin.startswith(self._excluded):
            return False
        return not ("site-packages" in origin or "dist-packages" in origin)


class Guard:
    """An installed guard. Obtain one with :func:`ssot_guard.install`."""

    def __init__(self, settings: Settings, *, logger: Any = None) -> None:
        self.settings = settings
        self.scope = Scope(settings.packages, settings.project_root)
        self.policy = Policy(logger)
        self.events = EventStore()
        #: Executing modules' frames, and finished records as ``ImportRecord.as_tuple()``.
        self._records: list[ExecFrame | tuple[Any, ...]] = []
        self.preloaded: list[str] = []
        self.executing: dict[str, ExecFrame] = {}
        self.installed = False
        self._logger = logger
        self._state = ThreadState()
        self._seq = itertools.count(1)
        self._t0 = now_ns()
        #: Built by _install(): it needs wrapt, which the kill switch never imports.
        self._finder: GuardFinder | None = None
        self._enabled = True
        self._listeners: list[Listener] = []
        self._tolerate: Tolerance | None = None
        self._participants: list[Participant] = []
        #: Enabled participants overriding each hook (see :meth:`_refresh_hooks`).
        self._spec_hooks: tuple[Participant, ...] = ()
        #: The names any of them answers for (``None``: every name).
        self._spec_names: Container[str] | None = None
        self._before_hooks: tuple[Participant, ...] = ()
        self._after_hooks: tuple[Participant, ...] = ()
        self._internal_errors: dict[str, str] = {}
        #: Set once an event waited in some thread's ``pending`` queue (a hint that spares
        #: ``_leave`` a thread-local lookup per import until then).
        self._buffered = False
        self._severity = settings.severities()
        self._runpy_original: Any = None
        self._logged_internal: set[str] = set()
        #: Internal errors raised while a thread was importing, logged once it is done.
        self._unlogged_internal: list[str] = []

    # ------------------------------------------------------------------ public API

    @property
    def finder(self) -> GuardFinder | None:
        """The guard's ``sys.meta_path`` entry; ``None`` until it is first installed."""
        return self._finder

    @property
    def records(self) -> list[ImportRecord]:
        """Every recorded import, in the order the module bodies started (a new list)."""
        return [
            ImportRecord(*(entry.as_tuple() if isinstance(entry, ExecFrame) else entry))
            for entry in list(self._records)
        ]

    @property
    def mode(self) -> str:
        return self.settings.mode

    def severity(self, code: str) -> str:
        """The effective severity of rule *code* (``off``, ``log``, ``warn``, ``error``)."""
        return self._severity[code]

    def set_severity(self, code: str, severity: str) -> None:
        """Change one rule's severity at run time (the pytest marker uses this)."""
        self._severity[code] = severity

    @contextlib.contextmanager
    def severities(self, overrides: dict[str, str]) -> Iterator[None]:
        """Temporarily override severities, restoring them afterwards."""
        saved = dict(self._severity)
        self._severity.update(overrides)
        try:
            yield
        finally:
            self._severity.clear()
            self._severity.update(saved)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event, is_new)`` for every occurrence, outside import locks."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def set_tolerance(self, predicate: Tolerance | None) -> None:
        """Install ``predicate(code, subject, chain, attribute)``: known violations (the pytest
        plugin's baseline) that a rule at ``error`` severity records but does not raise."""
        self._tolerate = predicate

    def tolerated(
        self,
        code: str,
        subject: str,
        chain: tuple[ChainLink, ...] = (),
        attribute: str | None = None,
    ) -> bool:
        """Whether a rule at ``error`` severity should skip raising for this violation.

        Rules that raise at the point call it in their raising branch only (a cold path),
        so a baselined violation of legacy code is recorded and reported, not raised.
        Pass the same ``subject``, ``chain`` and ``attribute`` field as the event.
        """
        predicate = self._tolerate
        if predicate is None:
            return False
        try:
            return bool(predicate(code, subject, chain, attribute))
        except Exception as error:
            self.internal_error("tolerance", error)
            return False

    def failures(self) -> list[Event]:
        """Events recorded at ``error`` severity: the run must fail because of them."""
        return [event for event in self.events if event.severity == "error"]

    @property
    def internal_errors(self) -> dict[str, str]:
        """Features disabled after an internal error, with a one-line description."""
        return dict(self._internal_errors)

    def participant(self, feature: str) -> Participant | None:
        for participant in self._participants:
            if participant.feature == feature:
                return participant
        return None

    def display(self, location: Location | None) -> str | None:
        """``file:line`` relative to the project root."""
        return format_location(location, self.settings.project_root)

    def report(self) -> dict[str, Any]:
        """The JSON-serialisable report of SPEC §3.3."""
        self._flush_idle()
        with self.busy():
            import platform  # report time only: start-up time counts (SPEC §7)

            imports = [self._record_dict(record) for record in self.records]
            events = [event.as_dict() for event in self.events]
            by_rule: dict[str, int] = {}
            for event in events:
                by_rule[event["rule"]] = by_rule.get(event["rule"], 0) + event["count"]
            return {
                "schema": REPORT_SCHEMA,
                "config": self.settings.as_dict(),
                "python": {
                    "version": platform.python_version(),
                    "implementation": platform.python_implementation(),
                    "executable": sys.executable,
                },
                "preloaded": list(self.preloaded),
                "imports": imports,
                "events": events,
                "summary": {
                    "imports": len(imports),
                    "first_party_imports": sum(1 for r in imports if r["first_party"]),
                    "events": len(events),
                    "occurrences": sum(e["count"] for e in events),
                    "by_rule": dict(sorted(by_rule.items())),
                    "errors": sum(1 for e in events if e["severity"] == "error"),
                    "dropped_events": self.events.dropped,
                    "internal_errors": dict(self._internal_errors),
                    **self._participant_summary(),
                },
            }

    def write_report(self, path: str | os.PathLike[str]) -> str:
        """Write :meth:`report` as JSON atomically (temporary file, then rename)."""
        target = os.path.abspath(os.fspath(path))
        data = self.report()
        folder = os.path.dirname(target) or "."
        os.makedirs(folder, exist_ok=True)
        with self.busy():
            import tempfile  # report time only

            handle, temp = tempfile.mkstemp(prefix=".ssot-guard-", suffix=".json", dir=folder)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(data, stream, indent=2, sort_keys=False)
                    stream.write("\n")
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        return target

    def violation(
        self,
        code: str,
        *,
        subject: str,
        message: str,
        location: Location | None = None,
        frame: FrameType | None = None,
        chain: tuple[ChainLink, ...] = (),
        **fields: Any,
    ) -> Event | None:
        """Record one occurrence of rule *code*; ``None`` when the rule is off.

        The caller raises at ``error`` severity where that is the rule's contract; this
        method only records, and dispatches now or when the thread's import stack empties.
        """
        severity = self._severity[code]
        if severity == "off":
            return None
        if location is None:
            location = user_location(frame if frame is not None else sys._getframe(1))
        event = Event(
            rule=code,
            severity=severity,
            subject=subject,
            location=self.display(location),
            message=message,
            chain=chain,
            thread=threading.current_thread().name,
            fields=fields,
            origin=tuple(location) if location is not None else None,  # type: ignore[arg-type]
            at_us=(now_ns() - self._t0) // 1000,
        )
        stored, is_new = self.events.add(event)
        self._deliver(stored, is_new)
        return stored

    def recount(self, event: Event) -> None:
        """One more occurrence of a stored *event*: the fast path for a known hot site.

        Equivalent to calling :meth:`violation` again with the same rule, subject and
        location (``count`` grows, listeners see ``is_new=False``) without the frame walk
        and the new event object.
        """
        self.events.recount(event)
        if self._listeners:
            self._deliver(event, False)

    def _deliver(self, event: Event, is_new: bool) -> None:
        """Dispatch now, or once this thread's imports are done (import locks may be held)."""
        state = self._state
        if state.stack or state.finding:
            state.pending.append((event, is_new))
            self._buffered = True
        else:
            self._dispatch(event, is_new)

    def internal_error(self, feature: str, error: BaseException) -> None:
        """Disable *feature* after a bug in the guard; emit one event per feature."""
        if feature in self._internal_errors:
            return
        where = ""
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            last = frames[-1]
            where = f" at {os.path.basename(last.filename)}:{last.lineno}"
        self._internal_errors[feature] = f"{type(error).__name__}{where}"
        for participant in self._participants:
            if participant.feature == feature:
                participant.enabled = False
        self._refresh_hooks()
        if feature == "finder":
            self._enabled = False
        if self._state.stack or self._state.finding:
            # Logging may import or take locks: wait until this thread's imports are done.
            self._unlogged_internal.append(feature)
        else:
            self._logged_internal.add(feature)
            self._log_internal(feature)

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Mark guard work on this thread: imports made meanwhile are not recorded."""
        state = self._state
        state.busy += 1
        try:
            yield
        finally:
            state.busy -= 1

    def _log_internal(self, feature: str) -> None:
        with self.busy():
            try:
                self.policy.log(
                    "ssot_guard.internal_error",
                    "error",
                    feature=feature,
                    error=self._internal_errors.get(feature, ""),
                )
            except Exception:  # logging itself failing must not break the program
                pass

    def _dispatch(self, event: Event, is_new: bool) -> None:
        with self.busy():
            try:
                if is_new:
                    self.policy.emit(event)
            finally:
                # Listeners run even when a warnings filter (``-W error``) turned the
                # warning into an exception: the pytest plugin must still see the event.
                for listener in list(self._listeners):
                    try:
                        listener(event, is_new)
                    except Exception as error:
                        self.internal_error("listener", error)

    def _flush(self, *, swallow: bool) -> None:
        """Dispatch the events buffered while this thread was importing."""
        state = self._state
        pending = state.pending
        while pending:
            event, is_new = pending.popleft()
            if swallow:
                try:
                    self._dispatch(event, is_new)
                except Exception:
                    pass
            else:
                self._dispatch(event, is_new)
        while self._unlogged_internal:
            try:
                feature = self._unlogged_internal.pop(0)
            except IndexError:  # another thread flushed it meanwhile
                break
            if feature not in self._logged_internal:
                self._logged_internal.add(feature)
                self._log_internal(feature)

    def _participant_spec(
        self, fullname: str, path: Any, target: ModuleType | None
    ) -> ModuleSpec | None:
        for participant in self._spec_hooks:
            if not participant.enabled:
                continue
            try:
                spec = participant.find_spec(fullname, path, target)
            except Exception as error:
                self.internal_error(participant.feature, error)
                continue
            if spec is not None:
                return spec
        return None

    def _record_namespace(self, spec: ModuleSpec) -> None:
        state = self._state
        stack = state.stack
        parent = stack[-1].name if stack else None
        location = user_location(sys._getframe(1))
        record = ImportRecord(
            seq=next(self._seq),
            name=spec.name,
            parent=parent,
            origin="namespace",
            thread=threading.current_thread().name,
            depth=len(stack),
            start_us=(now_ns() - self._t0) // 1000,
            first_party=self.scope.is_first_party(spec.name, _namespace_path(spec)),
        )
        if location is not None:
            record.location_file, record.location_line = location.filename, location.lineno
        self._records.append(record.as_tuple())

    def _refresh_hooks(self) -> None:
        """Cache the enabled participants for the import hot path.

        Hooks are still looked up on each call, so a hook replaced after install (a test
        monkeypatching one) is honoured; only disabling a participant refreshes this.
        """
        active = [p for p in self._participants if p.enabled]
        self._spec_hooks = tuple(p for p in active if _uses(p, "find_spec"))
        # One participant answers for module aliases (the compat shims): its names filter
        # the calls; with several, every name goes to them.
        hooks = self._spec_hooks
        self._spec_names = hooks[0].spec_names if len(hooks) == 1 else None
        self._before_hooks = tuple(p for p in active if _uses(p, "before_exec"))
        self._after_hooks = tuple(p for p in active if _uses(p, "after_exec"))

    def _enter(
        self, namespace: dict[str, Any], spec: Any, module: ModuleType, reload: bool
    ) -> ExecFrame | None:
        """Push the module on the thread's stack and start its record (the loader proxy
        has put the original loader back already).

        This runs once per imported module: keep it lean (SPEC §7 budget).
        """
        state = self._state
        if state.busy or not self._enabled:
            return None
        try:
            if spec is not None:
                name = spec.name
                origin = spec.origin
                if type(origin) is not str or not origin:
                    origin = spec_origin(spec, namespace)
            else:
                name = namespace.get("__name__", "?")
                origin = spec_origin(None, namespace)
            # The importing statement: for an import statement it sits right above
            # importlib's _find_and_load, 5 frames up (exec_module, _load_unlocked,
            # _find_and_load_unlocked, _find_and_load), and 7 for a submodule that a
            # ``from package import submodule`` loads (past _call_with_frames_removed and
            # _handle_fromlist): looking there first saves building frame objects for the
            # importlib frames in between.
            try:
                user = sys._getframe(5)
                code = user.f_code
                if code is CALL_REMOVED:
                    user = sys._getframe(7)
                    code = user.f_code
            except ValueError:
                user = None
            if user is not None:
                known = INTERNAL.get(code.co_filename)
                if known is None or (known is False and code.co_code[user.f_lasti] != IMPORT_NAME):
                    user = user_frame(sys._getframe(1))  # anything unusual: walk it all
                elif known:
                    user = user_frame(user)  # import_module(), from-list submodules
            else:
                user = user_frame(sys._getframe(1))
            scope = self.scope
            if scope.packages:
                first_party = name in scope._names or name.startswith(scope._prefixes)
            else:
                first_party = scope.path_is_first_party(origin)
            frame = self._push(state, name, origin, first_party, module, user, reload)
        except Exception as error:
            self.internal_error("finder", error)
            return None
        for participant in self._before_hooks:
            if participant.enabled:
                try:
                    participant.before_exec(frame, module)
                except Exception as error:
                    self.internal_error(participant.feature, error)
        return frame

    def _push(
        self,
        state: ThreadState,
        name: str,
        origin: str,
        first_party: bool,
        module: ModuleType,
        user: FrameType | None,
        reload: bool,
    ) -> ExecFrame:
        """Open the frame and its record, and put it on the thread's stack."""
        stack = state.stack
        started = now_ns()
        frame: ExecFrame = new_frame(ExecFrame)
        frame.seq = next(self._seq)
        frame.name = name
        frame.parent = stack[-1].name if stack else None
        frame.origin = origin
        frame.thread = state.thread_name
        frame.depth = len(stack)
        frame.start_us = (started - self._t0) // 1000
        frame.first_party = first_party
        if user is not None:
            frame.location_file = user.f_code.co_filename
            frame.location_line = user.f_lineno
        else:
            frame.location_file = None
            frame.location_line = 0
        frame.cumulative_us = frame.self_us = frame.children_ns = 0
        frame.outcome = "ok"
        frame.reload = reload
        frame.deferred = False
        frame.module = module
        frame.thread_id = _get_ident()
        frame.started_ns = started
        frame.notes = frame.watch = None
        records = self._records
        records.append(frame)
        frame.index = len(records) - 1
        stack.append(frame)
        self.executing[name] = frame
        return frame

    def _abandon(self, module: ModuleType) -> None:
        """Drop a frame of *module* that :meth:`_enter` pushed but could not return."""
        stack = self._state.stack
        if stack and stack[-1].module is module:
            frame = stack.pop()
            if self.executing.get(frame.name) is frame:
                del self.executing[frame.name]

    def _leave(self, frame: ExecFrame, module: ModuleType, error: BaseException | None) -> None:
        """Pop the module, finish its record, let participants look, then maybe flush."""
        state = self._state
        stack = state.stack
        elapsed = now_ns() - frame.started_ns
        try:
            frame.cumulative_us = elapsed // 1000
            own = elapsed - frame.children_ns
            frame.self_us = own // 1000 if own > 0 else 0
            if error is not None:
                frame.outcome = type(error).__name__
            for participant in self._after_hooks:
                if participant.enabled:
                    try:
                        participant.after_exec(frame, module, error)
                    except Exception as failure:
                        self.internal_error(participant.feature, failure)
        finally:
            if stack and stack[-1] is frame:
                stack.pop()
            elif frame in stack:  # pragma: no cover - a participant left the stack odd
                stack.remove(frame)
            name = frame.name
            executing = self.executing
            if executing.get(name) is frame:
                del executing[name]
            if stack:
                stack[-1].children_ns += elapsed
            records = self._records
            index = frame.index
            if 0 <= index < len(records) and records[index] is frame:
                records[index] = frame.as_tuple()
            else:
                self._finish(frame)
        if (self._buffered or self._unlogged_internal) and not stack:
            if (state.pending or self._unlogged_internal) and not state.finding:
                self._flush(swallow=error is not None)

    def _finish(self, frame: ExecFrame) -> None:
        """Keep a finished record as a tuple where another thread moved it (rare: it
        appended between our append and ``len()``)."""
        records = self._records
        index = next((i for i, r in enumerate(records) if r is frame), -1)
        if index >= 0:
            records[index] = frame.as_tuple()

    def _record_dict(self, record: ImportRecord) -> dict[str, Any]:
        return {
            "seq": record.seq,
            "name": record.name,
            "parent": record.parent,
            "location": self.display(record.where),
            "origin": record.origin,
            "thread": record.thread,
            "depth": record.depth,
            "start_us": record.start_us,
            "cumulative_us": record.cumulative_us,
            "self_us": record.self_us,
            "outcome": record.outcome,
            "first_party": record.first_party,
            "reload": record.reload,
        }

    def _participant_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        for participant in self._participants:
            extra = getattr(participant, "summary", None)
            if callable(extra):
                try:
                    summary.update(extra())
                except Exception as error:
                    self.internal_error(participant.feature, error)
        return summary

    # ------------------------------------------------------------------ runpy

    def _patch_runpy(self) -> None:
        """``runpy`` never calls ``exec_module``: record ``__main__`` and unwrap its loader."""
        import wrapt

        from ._hook import LoaderProxy, unwrap_loader

        original = runpy._run_code  # type: ignore[attr-defined]
        guard = self

        def run_code(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            names = ("code", "run_globals", "init_globals", "mod_name", "mod_spec", "pkg_name",
                     "script_name")  # fmt: skip
            bound = dict(zip(names, args, strict=False))
            bound.update({k: v for k, v in kwargs.items() if k in names})
            spec = bound.get("mod_spec")
            if spec is not None and type(spec.loader) is LoaderProxy:
                spec.loader = unwrap_loader(spec.loader)
            run_globals = bound.get("run_globals")
            frame = None
            if isinstance(run_globals, dict):
                code = bound.get("code")
                script = bound.get("script_name") or getattr(code, "co_filename", None)
                name = bound.get("mod_name") or "__main__"
                frame = guard._enter_main(name, spec, run_globals, script)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as error:
                if frame is not None:
                    guard._leave(frame, frame.module, error)
                raise
            if frame is not None:
                guard._leave(frame, frame.module, None)
            return result

        transparent(run_code, "runpy hook")  # between __main__ and runpy's own frames
        self._runpy_original = original
        runpy._run_code = wrapt.FunctionWrapper(original, run_code)  # type: ignore[attr-defined]

    def _enter_main(
        self, name: str, spec: Any, run_globals: dict[str, Any], script: str | None = None
    ) -> ExecFrame | None:
        state = self._state
        if state.busy:
            return None
        try:
            found: Any = sys.modules.get(name)
            module: ModuleType = found
            if not issubclass(type(found), ModuleType) or module_dict(found) is not run_globals:
                module = ModuleType(name)
            origin = (
                (spec.origin if spec is not None else None) or run_globals.get("__file__") or script
            )
            # ``-m app.cli`` runs as ``__main__``: scope by the module's real name.
            first_party = self.scope.is_first_party(getattr(spec, "name", None) or name, origin)
            origin = os.path.abspath(origin) if origin else "unknown"
            frame = self._push(state, name, origin, first_party, module, None, False)
            frame.notes = {"runpy": True}
            return frame
        except Exception as error:
            self.internal_error("runpy", error)
            return None

    def _unpatch_runpy(self) -> None:
        current = getattr(runpy, "_run_code", None)
        if self._runpy_original is not None and getattr(current, "__wrapped__", None) is (
            self._runpy_original
        ):
            runpy._run_code = self._runpy_original  # type: ignore[attr-defined]
        self._runpy_original = None

    # ------------------------------------------------------------------ lifecycle

    def _install(self) -> None:
        from ._hook import GuardFinder, set_active_guard
        from .rules import participants_for

        if self._finder is None:
            self._finder = GuardFinder(self)
        with self.busy():
            self._participants.extend(participants_for(self))
            self._refresh_hooks()
            self.preloaded = sorted(sys.modules)
            set_active_guard(self)
            self.move_to_front()
            self._patch_runpy()
            for participant in list(self._participants):
                try:
                    participant.install()
                except Exception as error:
                    self.internal_error(participant.feature, error)
        self.installed = True
        self.policy.log(
            "ssot_guard.installed",
            "info",
            mode=self.settings.mode,
            packages=list(self.settings.packages),
            config_file=self.settings.config_file,
        )

    def move_to_front(self) -> None:
        """Put the finder at index 0 of ``sys.meta_path`` (pytest inserts its own there)."""
        finder = self._finder
        if finder is None:
            return
        meta_path = sys.meta_path
        for index in range(len(meta_path) - 1, -1, -1):
            if meta_path[index] is finder:
                del meta_path[index]
        meta_path.insert(0, finder)

    def _uninstall(self) -> None:
        from ._hook import LoaderProxy, set_active_guard

        self._flush_idle()
        meta_path = sys.meta_path
        for index in range(len(meta_path) - 1, -1, -1):
            if meta_path[index] is self._finder:
                del meta_path[index]
        if LoaderProxy._self_guard is self:
            set_active_guard(None)
        for participant in reversed(self._participants):
            try:
                participant.uninstall()
            except Exception as error:
                self.internal_error(participant.feature, error)
        self._participants.clear()
        self._refresh_hooks()
        self._unpatch_runpy()
        self._unwrap_loaders()
        self.installed = False
        self.policy.log("ssot_guard.uninstalled", "info", mode=self.settings.mode)

    def _unwrap_loaders(self) -> None:
        """Leave no proxy reachable from modules loaded while the guard was installed."""
        from ._hook import LoaderProxy

        for module in list(sys.modules.values()):
            # type(), not isinstance(): a foreign object's ``__class__`` may raise (NOTES P11).
            namespace = module_dict(module) if issubclass(type(module), ModuleType) else {}
            loader = namespace.get("__loader__")
            if type(loader) is LoaderProxy:
                namespace["__loader__"] = loader.__wrapped__
            spec = namespace.get("__spec__")
            if spec is not None and type(getattr(spec, "loader", None)) is LoaderProxy:
                with contextlib.suppress(AttributeError, TypeError):
                    spec.loader = spec.loader.__wrapped__

    def _flush_idle(self) -> None:
        """Log what waited for this thread to leave its imports, if it has (report, exit)."""
        state = self._state
        if (state.pending or self._unlogged_internal) and not state.stack and not state.finding:
            self._flush(swallow=True)

    def _write_report_at_exit(self) -> None:
        self._flush_idle()
        if self.settings.report and self.installed:
            try:
                self.write_report(self.settings.report)
            except Exception as error:
                self.internal_error("report", error)

    def _after_fork(self) -> None:
        """In a forked child only the forking thread survives: drop the other threads' state.

        The forking thread keeps its own stack (its thread-local state survives the fork, and
        it may fork from inside a module body that will still finish in the child).
        """
        me = threading.get_ident()
        self.events.reset_lock()
        self.executing = {
            name: frame for name, frame in self.executing.items() if frame.thread_id == me
        }
        for participant in self._participants:
            try:
                participant.after_fork()
            except Exception as error:
                self.internal_error(participant.feature, error)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        if _ACTIVE is self:
            uninstall()


def _uses(participant: Participant, hook: str) -> bool:
    """Whether the import hot path must call *hook* of *participant* (SPEC §7 budget).

    A hook left as the base class's no-op is skipped, unless set on the instance (tests
    replace hooks that way); the participant may also say it has nothing to do now
    (``Participant.uses``: no shims configured, no canonical class declared).
    """
    if hook in vars(participant):
        return True
    if getattr(type(participant), hook) is getattr(Participant, hook):
        return False
    return participant.uses(hook)


def _namespace_path(spec: ModuleSpec) -> str | None:
    """The first folder of a namespace package (its "origin" for the first-party scope)."""
    locations = spec.submodule_search_locations
    try:
        return next(iter(locations), None) if locations is not None else None
    except Exception:  # _NamespacePath recomputes itself; never fail an import over it
        return None


# ---------------------------------------------------------------------- module API

_ACTIVE: Guard | None = None
_LOCK = threading.RLock()
_FORK_HOOK = False


def _at_exit() -> None:
    """Flush and write the report of the guard installed at exit (one handler per process:
    a handler per guard would keep every uninstalled guard and its records alive)."""
    guard = _ACTIVE
    if guard is not None:
        guard._write_report_at_exit()


def _fork_child() -> None:
    global _LOCK
    _LOCK = threading.RLock()
    if _ACTIVE is not None:
        _ACTIVE._after_fork()


def install(**settings: Any) -> Guard:
    """Install the guard (idempotent) and return it.

    Keyword arguments are the configuration keys of SPEC §5 (``mode``, ``packages``,
    ``rules``, ``canonical``, ``shims``, ``report``, ``deep``, ``test_mode``,
    ``check_exclude``) plus ``logger`` (a structlog-style logger) and ``config`` (a TOML
    path). A second call returns the active guard; settings that conflict with it raise
    :class:`ConfigError`. With ``mode="off"`` nothing is installed and an inert guard is
    returned. The guard is also a context manager that uninstalls on exit.
    """
    global _ACTIVE, _FORK_HOOK
    logger = settings.get("logger")
    resolved = load_settings(settings)
    with _LOCK:
        if _ACTIVE is not None:
            wanted, current = resolved.comparable(), _ACTIVE.settings.comparable()
            if settings and wanted != current:
                differences = ", ".join(
                    f"{key}: {current[key]!r} installed, {wanted[key]!r} requested"
                    for key in sorted(wanted)
                    if wanted[key] != current.get(key)
                )
                raise ConfigError(
                    f"{KWARG_SOURCE}: the guard is already installed with other settings "
                    f"({differences}); call ssot_guard.uninstall() first"
                )
            _ACTIVE.move_to_front()
            return _ACTIVE
        guard = Guard(resolved, logger=logger)
        if resolved.mode == "off":
            return guard
        guard._install()
        _ACTIVE = guard
        if not _FORK_HOOK:
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_fork_child)
            atexit.register(_at_exit)
            _FORK_HOOK = True
        return guard


def uninstall() -> None:
    """Remove the active guard: finder, wrappers, shims; no-op when none is installed."""
    global _ACTIVE
    with _LOCK:
        guard, _ACTIVE = _ACTIVE, None
        if guard is not None:
            guard._uninstall()


def active() -> Guard | None:
    """The installed guard, or ``None``."""
    return _ACTIVE


@contextlib.contextmanager
def installed(**settings: Any) -> Iterator[Guard]:
    """Install a guard for the duration of a ``with`` block."""
    guard = install(**settings)
    try:
        yield guard
    finally:
        if _ACTIVE is guard:
            uninstall()


__all__ = ["Guard", "active", "install", "installed", "uninstall"]
