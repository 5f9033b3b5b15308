"""Import rules: SSOT001, SSOT002, SSOT003, SSOT008 and SSOT009 (SPEC §1, §2, §7).

How each is seen, and what it costs:

* While the body of a first-party module runs (until ``after_exec``), from the moment
  another module starts executing inside it (every cycle has one) or other threads are
  executing modules too, and only if it is a plain :class:`types.ModuleType` with a plain
  ``ModuleSpec``, two things watch it, and neither costs anything on a successful read:

  - its ``__spec__`` has the class :class:`_WatchedSpec`, whose ``_initializing`` property
    sees every hand-out of the module from ``sys.modules`` (CPython reads
    ``__spec__._initializing`` before it gives an import a module it already has): hand-outs
    to a module inside the cycle (SSOT002, with the names of ``from m import a, b`` that the
    partial module already defines), and imports from other threads (SSOT008);
  - its namespace has a PEP 562 ``__getattr__`` (misses only): reads of names it does not
    define yet (SSOT001; SSOT008 from another thread).

  Both are removed when the body ends, so steady-state reads cost exactly what they cost
  without the guard. A successful ``m.x`` read of a partial module outside an import
  statement is not seen (SPEC §1: hand-outs are what cycles do). The caller's current
  opcode tells ``from m import x`` (``IMPORT_FROM``) from ``m.x`` and from
  ``getattr``/``hasattr`` calls (the call's source is parsed, once per call site);
  probes and dunder lookups are never violations and never raise.
* The exception CPython raises keeps its type and message: the chain is added with
  ``add_note()`` (directly for ``m.x``; for ``from m import x`` when the error leaves a
  module body, since CPython builds that ``ImportError`` after our hook returned).
* SSOT009 (``from M import X`` where first-party ``M`` is loaded and lacks ``X``): on
  3.12+ a ``sys.monitoring`` ``RAISE`` callback (no cost unless an exception is raised)
  sees every failed ``IMPORT_FROM``, swallowed or not. On 3.11 there is no free hook:
  misses that propagate out of a module body are seen there; swallowed ones only with
  ``deep = true``, which leaves a PEP 562 ``__getattr__`` (misses only) in the namespace
  of first-party modules: CPython then stops specialising reads on them, about 2x slower
  (a ``ModuleType`` subclass with ``__getattr__`` was measured at 14x: every read goes
  through a Python-level ``__getattribute__`` call), see README.
* SSOT003: every executed source file is remembered by normalised path; a second module
  name for the same file is reported once per file.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from functools import partial
from importlib.machinery import ModuleSpec
from types import CodeType, FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from .._errors import GuardAttributeError, GuardImportError
from .._events import ChainLink
from .._frames import CALL_REMOVED, Location, display_path, internal, user_frame, user_location
from .._participant import Participant
from .._records import missing_attribute, module_dict
from . import _imports_inspect as _inspect

if TYPE_CHECKING:
    from .._guard import Guard
    from .._records import ExecFrame, ImportRecord

_CYCLE_NOTE: Final = "import cycle: "
_MISSING_NOTE: Final = "missing import: "
_NOT_FILES: Final = frozenset({"built-in", "frozen", "namespace", "unknown"})
_POSIX: Final = os.sep == "/" and os.path.normcase("A") == "A"
_QUIET_MAX: Final = 20_000
#: ``ExecFrame.watch`` of a module that cannot be watched (not a plain module and spec).
_UNWATCHABLE: Final = ()
_NO_INITIALIZING: Final = "'ModuleSpec' object has no attribute '_initializing'"

#: importlib's ``_handle_fromlist``: probes a package with ``hasattr`` before importing.
_HANDLE_FROMLIST: Final = sys.modules["_frozen_importlib"]._handle_fromlist.__code__

#: The active participant (one guard is active at a time); read by the watch classes.
_RULES: ImportRules | None = None


class _WatchedSpec(ModuleSpec):
    """The class of a first-party module's ``__spec__`` while its body executes.

    CPython reads ``__spec__._initializing`` of a module it finds in ``sys.modules`` before
    handing it to an import (``import_ensure_initialized``, ``_find_and_load``), and when a
    ``from m import x`` fails: the one read that tells a partial module is handed out.
    The value lives in the instance ``__dict__`` as before; only reads are observed.
    """

    @property
    def _initializing(self) -> Any:
        rules = _RULES
        if rules is not None:
            frame = rules._specs.get(id(self))
            if frame is not None:
                # A hand-out of the module from sys.modules (ImportRules._spec decides).
                if not rules.enabled:
                    rules._unwatch(frame)
                else:
                    caller = sys._getframe(1)
                    # Not the parent package that __import__ returns to _handle_fromlist,
                    # which discards it (one per ``from package import submodule``).
                    if caller.f_code is not CALL_REMOVED:
                        try:
                            rules._spec(frame, caller)
                        except Exception as failure:
                            rules.guard.internal_error(rules.feature, failure)
        try:
            return self.__dict__["_initializing"]
        except KeyError:
            raise AttributeError(_NO_INITIALIZING, name="_initializing", obj=self) from None

    @_initializing.setter
    def _initializing(self, value: Any) -> None:
        self.__dict__["_initializing"] = value

    @_initializing.deleter
    def _initializing(self) -> None:
        try:
            del self.__dict__["_initializing"]
        except KeyError:
            raise AttributeError(_NO_INITIALIZING, name="_initializing", obj=self) from None


def _module_miss(frame: ExecFrame, name: str) -> Any:
    """The PEP 562 ``__getattr__`` of a module whose body executes (bound to its frame with
    :func:`functools.partial`): called on misses only.

    It raises CPython's own ``AttributeError`` (same message), after the rules looked;
    reads made by the import system or installed code return before any rule method.
    """
    caller = sys._getframe(1)
    code = caller.f_code
    if code is _HANDLE_FROMLIST:
        # importlib's ``hasattr(module, x)`` before importing submodule x (one per
        # ``from . import x``): the error is discarded, its message never built.
        raise AttributeError(name)
    module = frame.module
    error = missing_attribute(module, name)
    rules = _RULES
    if rules is not None and name[:2] != "__":
        filename = code.co_filename
        quiet = rules._quiet.get(filename)
        if quiet is None:
            quiet = rules._classify_file(filename)
        if not quiet:
            replacement = rules.on_miss(module, name, error, caller)
            if replacement is not None:
                raise replacement from None
    raise error


def _deep_getattr(module: ModuleType, original: Any) -> Callable[[str], Any]:
    """``deep = true`` where no free hook exists (3.11): a PEP 562 hook for misses.

    Names the module's own ``__getattr__`` (*original*) answers keep its behaviour; other
    misses raise CPython's own ``AttributeError`` (same message), after SSOT009 looked.
    """
    ref = weakref.ref(module)

    def __getattr__(name: str) -> Any:
        if original is not None:
            try:
                return original(name)
            except AttributeError as error:
                miss = error
        else:
            miss = missing_attribute(ref(), name)
        rules = _RULES
        target = ref()
        if rules is not None and target is not None and name[:2] != "__":
            replacement = rules.on_deep_miss(target, name, sys._getframe(1))
            if replacement is not None:
                raise replacement from None
        raise miss

    __getattr__.__qualname__ = "__getattr__"
    return __getattr__


class _Local(threading.local):
    """Per-thread state: notes waiting for their exception, hand-offs to re-check."""

    def __init__(self) -> None:
        #: (partial module, missing name) -> note for the ImportError CPython will raise.
        self.notes: dict[tuple[str, str], str] = {}
        #: ``import m`` of a module executing in another thread: SSOT008 if it still is
        #: when this thread continues (the import lock then handed out a partial module).
        self.handoffs: list[tuple[ExecFrame, Location | None, tuple[ChainLink, ...]]] = []


class ImportRules(Participant):
    """SSOT001, SSOT002, SSOT003, SSOT008 and SSOT009."""

    feature = "import-rules"

    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self._local = _Local()
        #: id(module) -> its ExecFrame, for modules watched while their body runs.
        self._frames: dict[int, ExecFrame] = {}
        #: id(watched spec) -> the ExecFrame of its module.
        self._specs: dict[int, ExecFrame] = {}
        #: Hand-offs waiting in some thread's ``_Local.handoffs`` (a hint: skip the
        #: thread-local lookup on every import while there are none).
        self._handoffs_waiting = 0
        #: Set once a note waited for its exception (``_Local.notes``): from then on each
        #: module's end clears its own leftovers.
        self._noted = False
        #: normalised source path -> the first module name it executed as (only strings:
        #: the garbage collector does not track such a dict).
        self._files: dict[str, str] = {}
        self._main: tuple[int, object] = (0, None)
        self._reported_files: set[str] = set()
        self._tool: int | None = None
        self._deep = False
        #: id(our deep __getattr__) -> (it, the module's own __getattr__ or None).
        self._deep_hooks: dict[int, tuple[Callable[[str], Any], Any]] = {}
        scope = guard.scope
        self._foreign_prefixes = (*scope._excluded, "<frozen ")
        #: file name -> its reads never matter (the guard, importlib, wrapt, installed
        #: code): answered by a dict lookup in the miss hook.
        self._quiet: dict[str, bool] = {}
        self._own_codes: frozenset[CodeType] = frozenset(
            {
                _module_miss.__code__,
                _deep_getattr(sys, None).__code__,
                ImportRules._on_raise.__code__,
            }
        )

    # ------------------------------------------------------------------ lifecycle

    def install(self) -> None:
        global _RULES
        _RULES = self
        self._start_monitoring()
        self._deep = bool(self.guard.settings.deep) and self._tool is None
        if self._deep:
            for name, module in list(sys.modules.items()):
                if type(module) is ModuleType and self._first_party_module(name, module):
                    if not self._initializing(module):
                        self._attach_deep(module)

    def uninstall(self) -> None:
        global _RULES
        self._stop_monitoring()
        for frame in list(self._frames.values()):
            self._unwatch(frame)
        for module in list(sys.modules.values()):
            namespace = module_dict(module)
            hook = self._deep_hooks.get(id(namespace.get("__getattr__")))
            if hook is not None and namespace.get("__getattr__") is hook[0]:
                if hook[1] is None:
                    del namespace["__getattr__"]
                else:
                    namespace["__getattr__"] = hook[1]
        self._deep_hooks.clear()
        self._frames.clear()
        self._specs.clear()
        if _RULES is self:
            _RULES = None

    def after_fork(self) -> None:
        me = threading.get_ident()
        self._local = _Local()
        self._frames = {key: f for key, f in self._frames.items() if f.thread_id == me}
        self._specs = {key: f for key, f in self._specs.items() if f.thread_id == me}
        self._handoffs_waiting = 0

    def summary(self) -> dict[str, Any]:
        """Which SSOT009 mechanism this process uses (for the report's summary)."""
        if self._tool is not None:
            mechanism = "sys.monitoring"
        elif self._deep:
            mechanism = "deep"
        else:
            mechanism = "propagated-errors"
        return {"missing_import_detection": mechanism}

    def _start_monitoring(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is None:
            return
        for tool in (4, 3):  # ids without a conventional owner (0-2 and 5 have one)
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, "ssot_guard")
                monitoring.register_callback(tool, monitoring.events.RAISE, self._on_raise)
                monitoring.set_events(tool, monitoring.events.RAISE)
                self._tool = tool
                return

    def _stop_monitoring(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        tool, self._tool = self._tool, None
        if monitoring is None or tool is None:
            return
        monitoring.set_events(tool, 0)
        monitoring.register_callback(tool, monitoring.events.RAISE, None)
        monitoring.free_tool_id(tool)

    def _attach_deep(self, module: ModuleType) -> None:
        namespace = module_dict(module)
        current = namespace.get("__getattr__")
        if id(current) in self._deep_hooks:
            return
        hook = _deep_getattr(module, current)
        self._deep_hooks[id(hook)] = (hook, current)
        namespace["__getattr__"] = hook

    # ------------------------------------------------------------------ exec hooks

    def before_exec(self, frame: ExecFrame, module: ModuleType) -> None:
        # Runs once per import: the common case avoids method calls (SPEC §7 budget).
        if self._handoffs_waiting:
            self._check_handoffs()
        if id(sys.modules.get("__main__")) != self._main[0]:
            self._remember_main()
        origin = frame.origin
        if _POSIX and origin[:1] == "/" and "/." not in origin and "//" not in origin:
            file: str | None = origin  # _file_key's fast path, inlined
        else:
            file = _file_key(origin)
        if file is not None:
            files = self._files
            if file in files:
                self._double_import(frame, file)
            else:
                files[file] = frame.name
        # Watch lazily: hand-outs and misses of a partial module matter once another
        # module executes inside its body (every cycle has one), or once other threads
        # are executing modules too. A leaf module costs nothing more.
        executing = self.guard.executing
        if frame.parent is not None:
            parent = executing.get(frame.parent)
            if parent is not None and parent.watch is None and parent.first_party:
                self._watch(parent)
        if len(executing) > frame.depth + 1:
            for other in list(executing.values()):
                if other.watch is None and other.first_party:
                    self._watch(other)

    def _watch(self, frame: ExecFrame) -> None:
        """Give a first-party module's spec the watching class and its namespace the miss
        hook, until its body ends (``frame.watch`` is ``()`` where that is impossible)."""
        module = frame.module
        if type(module) is not ModuleType:
            frame.watch = _UNWATCHABLE
            return
        namespace = module.__dict__
        spec = namespace.get("__spec__")
        if type(spec) is not ModuleSpec:
            frame.watch = _UNWATCHABLE
            return
        hook = None
        if "__getattr__" not in namespace:  # its own (or a shim's, on reload) sees misses
            hook = namespace["__getattr__"] = partial(_module_miss, frame)
        frame.watch = (spec, hook)
        self._frames[id(module)] = frame
        self._specs[id(spec)] = frame
        spec.__class__ = _WatchedSpec

    def after_exec(self, frame: ExecFrame, module: ModuleType, error: BaseException | None) -> None:
        if frame.watch is not None:
            self._unwatch(frame)
        if self._deep and error is None and frame.first_party:
            if type(module) is ModuleType:
                self._attach_deep(module)
        frame_notes = frame.notes
        if frame_notes and frame_notes.get("runpy"):
            self._double_import(frame)
        if error is not None:
            self._enrich(error)
        if self._handoffs_waiting:
            self._check_handoffs()
        if self._noted:
            notes = self._local.notes
            for key in [key for key in notes if key[0] == frame.name]:
                del notes[key]

    def _unwatch(self, frame: ExecFrame) -> None:
        """Restore the spec's class and drop the miss hook (unless the module replaced them)."""
        watch = frame.watch
        frame.watch = None
        if not watch:
            return
        spec, hook = watch
        module = frame.module
        frames = self._frames
        if frames.get(id(module)) is frame:
            del frames[id(module)]
        specs = self._specs
        if specs.get(id(spec)) is frame:
            del specs[id(spec)]
        if type(spec) is _WatchedSpec:
            restored: Any = spec
            restored.__class__ = ModuleSpec
        if hook is not None:
            namespace = module_dict(module)
            if namespace.get("__getattr__") is hook:
                del namespace["__getattr__"]

    # ------------------------------------------------------------------ watch hooks

    def on_miss(
        self, module: ModuleType, name: str, error: AttributeError, caller: FrameType
    ) -> BaseException | None:
        """A read of a missing name on a module whose body is executing."""
        if not self.enabled:
            frame = self._frames.get(id(module))
            if frame is not None:
                self._unwatch(frame)
            return None
        try:
            return self._miss(module, name, error, caller)
        except Exception as failure:
            self.guard.internal_error(self.feature, failure)
            return None

    def on_deep_miss(
        self, module: ModuleType, name: str, caller: FrameType
    ) -> BaseException | None:
        """``deep`` mode: a missing name on a loaded first-party module."""
        if not self.enabled:
            return None
        try:
            return self._deep_miss(module, name, caller)
        except Exception as failure:
            self.guard.internal_error(self.feature, failure)
            return None

    def _on_raise(self, code: CodeType, offset: int, exc: BaseException) -> Any:
        """``sys.monitoring`` RAISE callback (3.12+): a failed ``from M import X``."""
        if type(exc) is not ImportError or not self.enabled:
            return None
        try:
            if code.co_code[offset] != _inspect.IMPORT_FROM:
                return None
            frame = sys._getframe(1)
            location = Location(code.co_filename, frame.f_lineno, frame.f_globals.get("__name__"))
            replacement = self._import_error(exc, location, can_raise=True)
        except Exception as failure:
            self.guard.internal_error(self.feature, failure)
            return None
        if replacement is not None:
            raise replacement from None
        return None

    # ------------------------------------------------------------------ SSOT001 / SSOT002

    def _miss(
        self, module: ModuleType, name: str, error: AttributeError, caller: FrameType
    ) -> BaseException | None:
        frame = self._frames.get(id(module))
        if frame is None or frame.module is not module:
            return None
        kind = _inspect.access_kind(caller)  # (the miss hook has skipped quiet callers)
        if kind is None:
            return None
        modname = frame.name
        if frame.thread_id != threading.get_ident():
            self._cross_thread(frame, name, caller)
            return None
        if kind == _inspect.PROBE or caller.f_globals.get("__name__") == modname:
            return None
        guard = self.guard
        location = self._location(caller)
        if kind == _inspect.FROM and f"{modname}.{name}" in sys.modules:
            # CPython falls back to sys.modules: the submodule is handed out, maybe partial.
            submodule = guard.executing.get(f"{modname}.{name}")
            if submodule is not None and submodule.thread_id == frame.thread_id:
                self._cycle(submodule, location, None)
            return None
        severity = guard.severity("SSOT001")
        if severity == "off":
            return None
        detail = self._detail(frame, name)
        chain = self._chain(frame)
        message, note = self._partial_access(
            modname, name, kind == _inspect.FROM, location, chain, detail
        )
        if severity == "error":
            text = f"{message} ({note})"
            if kind == _inspect.FROM:
                return GuardImportError(text, name=modname, path=frame.origin)
            return GuardAttributeError(text, name=name, obj=module)
        if kind == _inspect.FROM:
            self._local.notes[(modname, name)] = note
            self._noted = True
        elif note not in (getattr(error, "__notes__", None) or ()):
            error.add_note(note)
        return None

    def _partial_access(
        self,
        modname: str,
        name: str,
        from_import: bool,
        location: Location | None,
        chain: tuple[ChainLink, ...],
        detail: str,
    ) -> tuple[str, str]:
        """Record SSOT001 for *name* read from partial *modname*: (message, note)."""
        closing = ChainLink(modname, self.guard.display(location))
        note = f"{_CYCLE_NOTE}{' -> '.join(str(link) for link in (*chain, closing))}: {detail}"
        if from_import:
            message = f"cannot import name '{name}' from partially initialized module '{modname}'"
        else:
            message = f"partially initialized module '{modname}' has no attribute '{name}'"
        self.guard.violation(
            "SSOT001",
            subject=modname,
            message=f"{message}: {detail}",
            location=location,
            chain=chain,
            attribute=name,
        )
        return message, note

    def _spec(self, frame: ExecFrame, caller: FrameType) -> None:
        modname = frame.name
        at: FrameType | None = caller
        code = caller.f_code
        filename = code.co_filename
        quiet = self._quiet.get(filename)  # the guard, importlib or installed code
        if quiet is None:
            quiet = self._classify_file(filename)
        if quiet:
            # importlib.import_module() / __import__(): _find_and_load reads the spec of a
            # module already in sys.modules before handing it out. Other reads by the
            # import system or installed code are bookkeeping.
            if code.co_name != "_find_and_load" or not internal(filename):
                return
            at = user_frame(caller)
            if at is None or _inspect.opcode_at(at) == _inspect.IMPORT_NAME:
                return  # the fromlist path of an import statement: IMPORT_FROM reports it
            if self._foreign(at.f_code.co_filename):
                return
        else:
            op = code.co_code[caller.f_lasti]
            if op == _inspect.IMPORT_NAME:
                fromlist = _inspect.import_fromlist(caller)
                if fromlist and "*" not in fromlist:
                    self._from_names(frame, fromlist, caller)
                    return
                if fromlist is None and _inspect.followed_by_import_from(caller):
                    return  # ``import a.b as c``: the IMPORT_FROM that follows reports it
            elif op == _inspect.IMPORT_FROM:
                # The sys.modules fallback of ``from pkg import sub`` reads sub's spec; a
                # partial parent reports it from its own miss.
                parent, _, last = modname.rpartition(".")
                if not parent or last != _inspect.import_from_name(caller):
                    return
                if id(sys.modules.get(parent)) in self._frames:
                    return
            else:
                return
        if at is None:
            return
        location = self._location(at)
        if frame.thread_id != threading.get_ident():
            chain = self._thread_chain(frame)
            self._local.handoffs.append((frame, location, chain))
            self._handoffs_waiting += 1
            return
        if at.f_globals.get("__name__") != modname:
            self._cycle(frame, location, None)

    def _from_names(self, frame: ExecFrame, fromlist: Any, caller: FrameType) -> None:
        """``from m import a, b`` of a partial ``m``: the names it already defines are handed
        out now (SSOT002; SSOT008 from another thread). Names it lacks are the miss hook's;
        submodules are imported, not read."""
        modname = frame.name
        if caller.f_globals.get("__name__") == modname:
            return  # the module's own body
        module = frame.module
        namespace = module.__dict__ if type(module) is ModuleType else module_dict(module)
        other_thread = frame.thread_id != threading.get_ident()
        location = None
        for name in fromlist:
            if not isinstance(name, str) or name not in namespace:
                continue
            value = namespace[name]
            if other_thread:
                self._cross_thread(frame, name, caller)
                continue
            if location is None:
                location = self._location(caller)
            if isinstance(value, ModuleType) and sys.modules.get(f"{modname}.{name}") is value:
                # ``from pkg import sub``: an import of the submodule, not a read of pkg.
                submodule = self._frames.get(id(value))
                if submodule is not None and submodule.thread_id == frame.thread_id:
                    self._cycle(submodule, location, None)
                continue
            self._cycle(frame, location, name)

    def _cycle(self, frame: ExecFrame, location: Location | None, name: str | None) -> None:
        """SSOT002: *frame*'s module, still executing, handed out *name* or itself."""
        guard = self.guard
        if guard.severity("SSOT002") == "off":
            return
        stack = guard._state.stack
        if frame not in stack or stack[-1] is frame:
            return  # not a cycle: the module's own body is the innermost import
        modname = frame.name
        chain = self._chain(frame)
        what = f"'{name}'" if name is not None else "the module object"
        fields: dict[str, Any] = {"attribute": name} if name is not None else {}
        guard.violation(
            "SSOT002",
            subject=modname,
            message=(
                f"{what} was taken from {modname} while its body was still executing "
                "(import cycle; it works in this import order and fails in another)"
            ),
            location=location,
            chain=chain,
            **fields,
        )

    def _detail(self, frame: ExecFrame, name: str) -> str:
        """Where *name* is defined in the partial module, relative to the cycle's import."""
        stack = self.guard._state.stack
        entered = None
        if frame in stack:
            index = stack.index(frame)
            if index + 1 < len(stack):
                entered = stack[index + 1]
        return self._detail_in(frame.name, frame.origin, entered, name)

    def _detail_in(self, modname: str, origin: str, entered: ImportRecord | None, name: str) -> str:
        """*entered*: the import made by the partial module's body that led to the read."""
        if f"{modname}.{name}" in sys.modules:
            return f"'{name}' is the submodule {modname}.{name}, still executing"
        root = self.guard.settings.project_root
        if not origin.endswith(".py") or not os.path.isfile(origin):
            return f"'{name}' is not defined yet"
        line = _inspect.definitions(origin).get(name)
        if line is None:
            return f"'{name}' is defined nowhere in {display_path(origin, root)}"
        where = f"{display_path(origin, root)}:{line}"
        import_line = 0
        if entered is not None and entered.location_file == origin:
            import_line = entered.location_line
        if import_line and line > import_line:
            return f"'{name}' is defined at {where}, after the import at line {import_line}"
        return f"'{name}' is defined at {where}"

    # ------------------------------------------------------------------ SSOT008

    def _cross_thread(self, frame: ExecFrame, name: str | None, caller: FrameType) -> None:
        guard = self.guard
        if guard.severity("SSOT008") == "off":
            return
        location = self._location(caller)
        self._report_cross_thread(frame, location, self._thread_chain(frame), name)

    def _report_cross_thread(
        self,
        frame: ExecFrame,
        location: Location | None,
        chain: tuple[ChainLink, ...],
        name: str | None,
    ) -> None:
        modname = frame.name
        what = f"'{name}' was read from" if name is not None else "the import received"
        fields: dict[str, Any] = {"owner_thread": frame.thread}
        if name is not None:
            fields["attribute"] = name
        self.guard.violation(
            "SSOT008",
            subject=modname,
            message=(
                f"{what} {modname} while its body was still executing in thread {frame.thread}"
            ),
            location=location,
            chain=chain,
            **fields,
        )

    def _check_handoffs(self) -> None:
        handoffs = self._local.handoffs
        if not handoffs:
            return
        pending = list(handoffs)
        handoffs.clear()
        if self.guard.severity("SSOT008") == "off":
            return
        for frame, location, chain in pending:
            if self._frames.get(id(frame.module)) is frame:  # still executing over there
                self._report_cross_thread(frame, location, chain, None)

    def _thread_chain(self, frame: ExecFrame) -> tuple[ChainLink, ...]:
        display = self.guard.display
        links = [ChainLink(frame.name, display(frame.where))]
        links.extend(ChainLink(f.name, display(f.where)) for f in self.guard._state.stack)
        return tuple(links)

    # ------------------------------------------------------------------ SSOT009

    def _deep_miss(self, module: ModuleType, name: str, caller: FrameType) -> BaseException | None:
        # Another PEP 562 hook may wrap ours (the compat shims' dispatcher): skip guard frames.
        while caller.f_code.co_filename.startswith("<ssot_guard") and caller.f_back is not None:
            caller = caller.f_back
        filename = caller.f_code.co_filename
        if self._foreign(filename) or _inspect.opcode_at(caller) != _inspect.IMPORT_FROM:
            return None
        modname = module_dict(module).get("__name__")
        if not isinstance(modname, str) or f"{modname}.{name}" in sys.modules:
            return None
        found = self._missing(modname, name, self._location(caller))
        if found is None:
            return None
        note, strict = found
        if strict is not None:
            return strict
        self._local.notes[(modname, name)] = note
        self._noted = True
        return None

    def _import_error(
        self, error: ImportError, location: Location | None, *, can_raise: bool
    ) -> BaseException | None:
        """A failed ``from M import X``: attach a waiting SSOT001 note, or check SSOT009."""
        modname, name = error.name, _inspect.missing_name(error)
        if not modname or not name or _noted(error):
            return None
        note = self._local.notes.pop((modname, name), None)
        if note is not None:
            error.add_note(note)
            return None
        found = self._missing(modname, name, location, path=error.path)
        if found is None:
            return None
        note, strict = found
        if strict is not None and can_raise:
            return strict
        error.add_note(note)
        return None

    def _missing(
        self, modname: str, name: str, location: Location | None, path: str | None = None
    ) -> tuple[str, BaseException | None] | None:
        """SSOT009 for ``from modname import name``: (note, exception to raise in strict)."""
        if name[:2] == "__":
            return None
        module = sys.modules.get(modname)
        if module is None or not self._first_party_module(modname, module):
            return None
        if self._initializing(module):
            if id(module) in self._frames:
                return None  # seen by its miss hook at the read
            return self._untracked_partial(modname, module, name, location, path)
        guard = self.guard
        severity = guard.severity("SSOT009")
        if severity == "off":
            return None
        modules = [
            (other, mod)
            for other, mod in list(sys.modules.items())
            if isinstance(mod, ModuleType) and self._first_party_module(other, mod)
        ]
        suggestion, how = _inspect.suggest(modname, name, modules)
        if how == "moved" and suggestion is not None:
            owner = suggestion.rpartition(".")[0]
            detail = (
                f"'{name}' is not defined in {modname}; {owner} defines it "
                f"(from {owner} import {name})"
            )
        elif how == "close-match" and suggestion is not None:
            detail = (
                f"'{name}' is not defined in {modname}; did you mean "
                f"'{suggestion.rpartition('.')[2]}'?"
            )
        else:
            detail = f"'{name}' is not defined in {modname}, nor in any loaded first-party module"
        fields: dict[str, Any] = {"attribute": name, "suggestion": suggestion}
        guard.violation(
            "SSOT009",
            subject=modname,
            message=detail,
            location=location,
            **fields,
        )
        strict = None
        if severity == "error":
            strict = GuardImportError(
                f"cannot import name '{name}' from '{modname}': {detail}", name=modname, path=path
            )
        return f"{_MISSING_NOTE}{detail}", strict

    def _untracked_partial(
        self,
        modname: str,
        module: ModuleType,
        name: str,
        location: Location | None,
        path: str | None,
    ) -> tuple[str, BaseException | None] | None:
        """SSOT001 for a module whose body started before ``install()`` (no class swap).

        Typical: ``install()`` called from a package's ``__init__`` that then imports a
        submodule reading back from the package. Seen through the failed ``from`` import
        (3.12+: also when swallowed); the chain starts at the untracked module.
        """
        guard = self.guard
        severity = guard.severity("SSOT001")
        if severity == "off":
            return None
        stack = guard._state.stack
        display = guard.display
        chain = (
            ChainLink(modname, None),
            *(ChainLink(f.name, display(f.where)) for f in stack),
        )
        file = module_dict(module).get("__file__")
        origin = file if isinstance(file, str) else ""
        detail = self._detail_in(modname, origin, stack[0] if stack else None, name)
        message, note = self._partial_access(modname, name, True, location, chain, detail)
        strict = None
        if severity == "error":
            strict = GuardImportError(f"{message} ({note})", name=modname, path=path)
        return note, strict

    # ------------------------------------------------------------------ exceptions

    def _enrich(self, error: BaseException) -> None:
        """An error leaves a module body: drop our frames, add the note it is waiting for."""
        if not isinstance(error, ImportError | AttributeError):
            return
        _inspect.strip_frames(error, self._own_codes)
        if type(error) is not ImportError:
            return
        tb = _inspect.innermost(error)
        location = None
        if tb is not None:
            code = tb.tb_frame.f_code
            if code.co_code[tb.tb_lasti] != _inspect.IMPORT_FROM:
                return
            name = tb.tb_frame.f_globals.get("__name__")
            location = Location(code.co_filename, tb.tb_lineno or 0, name)
        if self._tool is not None:
            # 3.12+: the RAISE callback already saw it; only a waiting note may remain.
            modname, name = error.name, _inspect.missing_name(error)
            note = self._local.notes.pop((modname or "", name or ""), None)
            if note is not None and not _noted(error):
                error.add_note(note)
            return
        self._import_error(error, location, can_raise=False)

    # ------------------------------------------------------------------ SSOT003

    def _double_import(self, frame: ExecFrame, key: str | None = None) -> None:
        if key is None:
            key = _file_key(frame.origin)
            if key is None:
                return
            self._remember_main()
        first_name = self._files.get(key)
        if first_name is None:
            self._files[key] = frame.name
            return
        if first_name == frame.name or key in self._reported_files:
            return
        first_record = self._first_record(first_name, key)
        display = self.guard.display(frame.where)
        first_location = self.guard.display(first_record.where) if first_record else None
        scope = self.guard.scope
        if not (
            scope.is_first_party(first_name, frame.origin)
            or scope.is_first_party(frame.name, frame.origin)
        ):
            return
        self._reported_files.add(key)
        if self.guard.severity("SSOT003") == "off":
            return
        shown = display_path(frame.origin, self.guard.settings.project_root)
        # The importing statement, with its module's name (warnings need one: NOTES 3.2).
        location = user_location(sys._getframe(1)) or frame.where
        self.guard.violation(
            "SSOT003",
            subject=frame.name,
            message=(
                f"{shown} was executed twice, as {first_name} and as {frame.name}: "
                "every class in it now exists twice"
            ),
            location=location,
            chain=(ChainLink(first_name, first_location), ChainLink(frame.name, display)),
            file=shown,
            names=[first_name, frame.name],
            first_location=first_location,
        )

    def _first_record(self, name: str, key: str) -> ImportRecord | None:
        """The record of the first execution of file *key* as module *name* (cold path)."""
        for record in list(self.guard.records):
            if record.name == name and _file_key(record.origin) == key:
                return record
        return None

    def _remember_main(self) -> None:
        """A script run as ``__main__`` (without runpy's help) counts as executed."""
        main = sys.modules.get("__main__")
        if main is None:
            return
        file = module_dict(main).get("__file__")
        if self._main[0] == id(main) and self._main[1] is file:
            return
        self._main = (id(main), file)
        key = _file_key(file)
        if key is not None and key not in self._files:
            self._files[key] = "__main__"

    # ------------------------------------------------------------------ helpers

    def _classify_file(self, filename: str) -> bool:
        """Whether reads made by code of *filename* are never violations (cached).

        Runs inside a module attribute read: a failure answers "not quiet", and the rule
        methods (which catch their own errors) decide.
        """
        try:
            quiet = internal(filename) or self._foreign(filename)
        except Exception:
            return False
        if len(self._quiet) >= _QUIET_MAX:
            self._quiet.clear()
        self._quiet[filename] = quiet
        return quiet

    def _foreign(self, filename: str) -> bool:
        """Code of the standard library or an installed package: its reads are not ours."""
        return (
            filename.startswith(self._foreign_prefixes)
            or "site-packages" in filename
            or "dist-packages" in filename
        )

    def _location(self, frame: FrameType) -> Location:
        return Location(frame.f_code.co_filename, frame.f_lineno, frame.f_globals.get("__name__"))

    def _chain(self, frame: ExecFrame) -> tuple[ChainLink, ...]:
        """SPEC §3.2: from the partial module to the accessor, each with its import's line.

        The statement that reads from the partial module is the event's ``location``.
        """
        display = self.guard.display
        stack = self.guard._state.stack
        frames = stack[stack.index(frame) :] if frame in stack else [frame]
        return tuple(ChainLink(f.name, display(f.where)) for f in frames)

    def _first_party_module(self, name: str, module: ModuleType) -> bool:
        file = module_dict(module).get("__file__")
        return self.guard.scope.is_first_party(name, file if isinstance(file, str) else None)

    def _initializing(self, module: ModuleType) -> bool:
        """Still executing: our own bookkeeping, or CPython's flag (NOTES P19)."""
        if id(module) in self._frames:
            return True
        spec = module_dict(module).get("__spec__")
        try:
            return getattr(spec, "_initializing", False) is True
        except Exception:
            return False


def _noted(error: BaseException) -> bool:
    notes = getattr(error, "__notes__", None) or ()
    return any(
        isinstance(note, str) and note.startswith((_CYCLE_NOTE, _MISSING_NOTE)) for note in notes
    )


def _file_key(origin: object) -> str | None:
    """The file an origin names, normalised without system calls (cheap per import)."""
    if not isinstance(origin, str) or origin in _NOT_FILES or origin.startswith("<"):
        return None
    if _POSIX and origin.startswith("/") and "/." not in origin and "//" not in origin:
        return origin
    if not os.path.isabs(origin):
        origin = os.path.abspath(origin)
    return os.path.normcase(os.path.normpath(origin))
