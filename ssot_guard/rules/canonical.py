"""Canonical-class rules: SSOT004 non-canonical-instance, SSOT005 duplicate-definition and
SSOT007 second-singleton (SPEC §1, §4).

A class is *non-canonical* when its ``__name__`` is the name of a declared canonical class,
its dotted path (``__module__`` + ``__qualname__``) is not a canonical path, and its module is
not allowed (``allow`` lists modules or packages). Subclasses of a non-canonical class are
non-canonical too. Subclasses of the canonical class are specialisations and are left
alone (they have another name; one that *reuses* the canonical name elsewhere is a duplicate).
Identity is the dotted path, not the class object: a reload or a decorator that rebuilds the
class (``@dataclass(slots=True)``) produces a new version of the same class (NOTES P18).

Mechanisms, and why:

* Classes defined after ``install()`` are seen as they are created, through a wrapper of
  ``builtins.__build_class__`` (only while canonical names are declared; the check is a dict
  lookup on the class name). Waiting for the module to finish would miss
  ``manager = DatabaseManager()`` right under the class statement.
* Classes defined before ``install()`` are found by one scan of a copy of ``sys.modules``
  (NOTES P11, P30), plus the existing subclasses of every non-canonical class.
* Instantiation is seen by a ``__new__`` wrapper on non-canonical classes and on singleton
  canonical classes only (``_canonical_wrap``): instantiating the canonical, non-singleton
  class costs nothing. Immutable (C) types cannot be wrapped: they are reported by SSOT005,
  listed under ``canonical_not_wrapped`` in the report summary and logged once at ``info``.
* A repeated violation at a known call site is counted through a per-site cache.

Events carry class paths and locations only, never constructor arguments (SPEC §3.2).
"""

from __future__ import annotations

import abc
import builtins
import copy
import copyreg
import dataclasses
import enum
import functools
import inspect
import sys
import threading
import types
import typing
import weakref
from _thread import get_ident as _get_ident
from collections.abc import Iterable, Iterator
from types import CodeType, FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from .._config import CanonicalSpec
from .._errors import GuardTypeError
from .._frames import Location, is_internal, transparent
from .._participant import Participant
from .._records import module_dict
from ._canonical_api import DECLARED, merge
from ._canonical_wrap import (
    WrapRecord,
    install_wrapper,
    unpatch_dataclasses,
    wrapper_in,
)
from ._class_statement import Statements, is_statement_code

if TYPE_CHECKING:
    from .._events import Event
    from .._guard import Guard
    from .._records import ExecFrame

#: Standard-library helpers that instantiate classes for their caller (``Generic[T]()``,
#: ``copy.copy``, unpickling, ``dataclasses.replace``): skipped when attributing a call.
#: ``pickle`` is looked up when needed (:func:`_is_helper`): importing it costs ~1.5 ms of
#: start-up (SPEC §7), and its frames can only be on a stack once something imported it.
_HELPER_FILES: Final = frozenset(
    getattr(module, "__file__", None) or ""
    for module in (abc, copy, copyreg, dataclasses, enum, functools, typing)
)
#: The bundled demo application is user code (``_frames`` treats it the same way).
_DEMO_APP: Final = "ssot_guard._demo.app"
_CODES: Final = ("SSOT004", "SSOT005", "SSOT007")
#: Distinct call sites remembered for the fast path (later sites take the normal path).
MAX_SITES: Final = 4096


def class_path(cls: type) -> str:
    """``module.QualName`` of a class, without running metaclass properties."""
    module = type.__getattribute__(cls, "__module__")
    qualname = type.__getattribute__(cls, "__qualname__")
    return f"{module}.{qualname}"


def _is_helper(filename: str) -> bool:
    if is_internal(filename) or filename in _HELPER_FILES:
        return True
    pickle = sys.modules.get("pickle")
    return pickle is not None and filename == (getattr(pickle, "__file__", None) or "")


def _is_type(value: object) -> bool:
    """``isinstance(value, type)`` that a proxy's ``__class__`` cannot fool."""
    return issubclass(type(value), type)


class _NonCanonical:
    """A class found to be non-canonical, with what its events report."""

    __slots__ = ("base", "cls", "defined_at", "message", "path", "spec")

    def __init__(
        self, cls: type, path: str, spec: CanonicalSpec, defined_at: str | None, base: str | None
    ) -> None:
        self.cls = cls
        self.path = path
        self.spec = spec
        self.defined_at = defined_at
        self.base = base
        if base is None:
            self.message = f"instantiated {path}, which is not the canonical class {spec.path}"
        else:
            self.message = (
                f"instantiated {path}, a subclass of non-canonical {base} "
                f"(canonical class: {spec.path})"
            )


class _Singleton:
    """The first instance of a singleton class: weakly held, or by id when the instance
    has no ``__weakref__`` slot."""

    __slots__ = ("first_id", "first_location", "first_ref", "has_first", "lock", "spec")

    def __init__(self, spec: CanonicalSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.has_first = False
        self.first_id = 0
        self.first_ref: weakref.ref[object] | None = None
        self.first_location: str | None = None

    def remember(self, instance: object, location: str | None) -> None:
        try:
            self.first_ref = weakref.ref(instance)
        except TypeError:
            self.first_ref = None
        self.first_id = id(instance)
        self.first_location = location
        self.has_first = True

    def is_first(self, instance: object) -> bool:
        if not self.has_first or self.first_id != id(instance):
            return False
        ref = self.first_ref
        return ref is None or ref() is instance


class CanonicalClasses(Participant):
    """SSOT004, SSOT005 and SSOT007 for the declared canonical classes."""

    feature = "canonical-classes"

    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self._severity: dict[str, str] = guard._severity
        self._specs: dict[str, CanonicalSpec] = {}
        #: class ``__name__`` -> canonical specs with that name (mutated in place: the
        #: ``__build_class__`` wrapper holds a reference).
        self._by_name: dict[str, tuple[CanonicalSpec, ...]] = {}
        #: canonical path -> ``file:line`` of its definition, once seen.
        self._seen: dict[str, str | None] = {}
        #: id(class) -> what makes it non-canonical (the entry keeps the class alive).
        self._bad: dict[int, _NonCanonical] = {}
        #: id(class) -> class, for classes reached through a wrapper and found fine.
        self._fine: dict[int, type] = {}
        #: id(class) -> the wrapper installed on it.
        self._owners: dict[int, WrapRecord] = {}
        self._singletons: dict[str, _Singleton] = {}
        #: id(class) -> (class, its singleton state or None), for the instantiation path.
        self._singleton_of: dict[int, tuple[type, _Singleton | None]] = {}
        self._reported: set[str] = set()
        #: (caller code, line, id(class)) -> event, per rule: the fast path of a known site.
        self._sites4: dict[tuple[CodeType, int, int], Event] = {}
        self._sites7: dict[tuple[CodeType, int, int], Event] = {}
        self._recount = guard.recount
        self._skip: dict[CodeType, bool] = {}
        self._codes: dict[int, frozenset[CodeType]] = {}
        self._unwrapped: dict[str, str] = {}
        #: module name -> first-party (SPEC §1 scope).
        self._scope: dict[str, bool] = {}
        self._lock = threading.RLock()
        self._active = False
        self._build_original: Any = None
        self._build_hook: Any = None

    # ------------------------------------------------------------------ lifecycle

    def install(self) -> None:
        specs = dict(self.guard.settings.canonical)
        declared = list(DECLARED.items())
        for path, (spec, _cls) in declared:
            specs[path] = merge(specs[path], spec) if path in specs else spec
        if not specs or all(self._severity[code] == "off" for code in _CODES):
            return
        with self._lock:
            self._specs = specs
            self._index()
            self._start()
        try:
            for _path, (_spec, cls) in declared:
                self._classify(cls, None)
            self._scan(None)
        except Exception as error:
            self._fail(error)

    def uninstall(self) -> None:
        self._active = False
        if self._build_hook is not None and builtins.__build_class__ is self._build_hook:
            builtins.__build_class__ = self._build_original
        self._build_hook = None
        unpatch_dataclasses()
        for record in list(self._owners.values()):
            try:
                record.restore()
            except (TypeError, AttributeError):  # pragma: no cover - class turned immutable
                pass
        self._owners.clear()
        self._bad.clear()
        self._fine.clear()
        self._sites4.clear()
        self._sites7.clear()
        self._singletons.clear()
        self._singleton_of.clear()

    def after_fork(self) -> None:
        self._lock = threading.RLock()
        for state in self._singletons.values():
            state.lock = threading.Lock()

    def uses(self, hook: str) -> bool:
        """``after_exec`` only while canonical names are declared (:meth:`_start`)."""
        return self._active

    def after_exec(self, frame: ExecFrame, module: ModuleType, error: BaseException | None) -> None:
        """Catch classes the ``__build_class__`` hook never saw (a decorator that returns a
        rebuilt copy without the wrapper, ``type()`` calls): one lookup per canonical name."""
        if not self._active or error is not None:
            return
        try:
            namespace = module_dict(module)
            for name in self._by_name:
                value = namespace.get(name)
                if value is not None and _is_type(value):
                    ident = id(value)
                    if ident in self._bad or ident in self._owners or ident in self._fine:
                        continue
                    self._classify(value, None)
        except Exception as failure:
            self._fail(failure)

    def summary(self) -> dict[str, Any]:
        """The ``canonical`` entry of the report summary: declared paths, those never
        imported, and classes that could not be wrapped (C types) with the reason."""
        if not self._specs:
            return {}
        declared = sorted(self._specs)
        return {
            "canonical": {
                "declared": declared,
                "not_imported": [path for path in declared if not self._is_loaded(path)],
                "not_wrapped": dict(sorted(self._unwrapped.items())),
            }
        }

    def declare(self, spec: CanonicalSpec, cls: type) -> None:
        """Called by ``@ssot_guard.canonical`` while this guard is installed."""
        with self._lock:
            known = self._specs.get(spec.path)
            self._specs[spec.path] = merge(known, spec) if known is not None else spec
            self._index()
            self._fine.clear()  # classes seen before this name was canonical
            if all(self._severity[code] == "off" for code in _CODES):
                return
            if not self._active:
                self._start()
        try:
            self._classify(cls, None)
            self._scan({spec.qualname})
        except Exception as error:
            self._fail(error)

    # ------------------------------------------------------------------ setup

    def _index(self) -> None:
        by_name: dict[str, list[CanonicalSpec]] = {}
        for path in sorted(self._specs):
            spec = self._specs[path]
            by_name.setdefault(spec.qualname, []).append(spec)
            if spec.singleton and path not in self._singletons:
                self._singletons[path] = _Singleton(spec)
            elif path in self._singletons:
                self._singletons[path].spec = spec
        self._by_name.clear()
        self._by_name.update({name: tuple(specs) for name, specs in by_name.items()})

    def _start(self) -> None:
        """Wrap ``builtins.__build_class__`` (restored by :meth:`uninstall`)."""
        self._active = True
        original = builtins.__build_class__
        names = self._by_name
        bad = self._bad
        participant = self
        statements = Statements()
        current = statements.get

        def __build_class__(func: Any, name: Any, /, *bases: Any, **kwds: Any) -> Any:
            try:
                if bases or kwds:
                    # Bases and keywords bring Python code under the statement (metaclasses,
                    # __init_subclass__, pydantic's model namespace): it runs from a frame
                    # that looks like the caller's own (see _class_statement).
                    caller = sys._getframe(1)
                    code_name = caller.f_code.co_name
                    state = current(_get_ident()) or statements.new()
                    code = state.codes.get(code_name) or state.build(code_name)
                    state.calls.append(functools.partial(original, func, name, *bases, **kwds))
                    exec(code, caller.f_globals, caller.f_locals)
                    cls = state.results.pop()
                else:
                    cls = original(func, name)
            except BaseException as error:
                # The traceback goes from the statement into the class, as without the guard.
                tb = error.__traceback__
                here = sys._getframe()
                while tb is not None and (
                    tb.tb_frame is here or is_statement_code(tb.tb_frame.f_code)
                ):
                    tb = tb.tb_next
                error.__traceback__ = tb
                raise
            if (name in names or (bad and _has_base_in(cls, bad))) and participant._active:
                participant._built(cls, sys._getframe(1))
            return cls

        # Hidden from warnings' stack levels (__init_subclass__ and metaclasses warn about
        # the class statement), and named as module-level code: pydantic looks one frame
        # further back for a PEP 695 class, and treats a <module> frame as module level.
        transparent(__build_class__, "class statement hook")
        __build_class__.__code__ = __build_class__.__code__.replace(co_name="<module>")
        __build_class__.__wrapped__ = original  # type: ignore[attr-defined]
        __build_class__.__doc__ = getattr(original, "__doc__", None)
        self._build_original = original
        self._build_hook = __build_class__
        builtins.__build_class__ = __build_class__
        self.guard._refresh_hooks()  # after_exec has work to do from now on

    def _fail(self, error: Exception) -> None:
        """A bug here must not break the program: stop checking, report once."""
        self._active = False
        for record in list(self._owners.values()):
            record.wrapper.disable()
        self.guard.internal_error(self.feature, error)

    # ------------------------------------------------------------------ classification

    def _built(self, cls: object, frame: FrameType) -> None:
        try:
            if _is_type(cls):
                self._classify(cls, frame)  # type: ignore[arg-type]
        except Exception as error:
            self._fail(error)

    def _scan(self, names: set[str] | None) -> None:
        """Find classes defined before install (or before a late declaration)."""
        wanted = names if names is not None else set(self._by_name)
        seen: set[int] = set()
        found: list[type] = []
        with self.guard.busy():
            for _name, module in list(sys.modules.items()):
                if not isinstance(module, ModuleType):
                    continue
                try:
                    values = list(module_dict(module).values())
                except RuntimeError:  # pragma: no cover - changed size in another thread
                    continue
                for value in values:
                    if not _is_type(value) or id(value) in seen:
                        continue
                    seen.add(id(value))
                    try:
                        name = type.__getattribute__(value, "__name__")
                    except Exception:  # pragma: no cover - exotic metaclass
                        continue
                    if name in wanted:
                        found.append(value)
            # Canonical classes first, so that a duplicate's event names its location.
            found.sort(key=lambda cls: class_path(cls) not in self._specs)
            for cls in found:
                self._classify(cls, None)
            for info in list(self._bad.values()):
                for sub in _subclasses(info.cls):
                    self._classify(sub, None)

    def _classify(self, cls: type, frame: FrameType | None) -> _NonCanonical | None:
        """Decide about a class (once); report SSOT005, wrap what needs wrapping."""
        ident = id(cls)
        known = self._bad.get(ident)
        if known is not None:
            return known
        if ident in self._owners or ident in self._fine:
            return None
        with self._lock:
            return self._classify_locked(cls, frame)

    def _classify_locked(self, cls: type, frame: FrameType | None) -> _NonCanonical | None:
        ident = id(cls)
        name = type.__getattribute__(cls, "__name__")
        path = class_path(cls)
        specs = self._by_name.get(name)
        if specs:
            for spec in specs:
                if spec.path == path:
                    self._canonical(cls, spec, frame)
                    return None
            module = str(type.__getattribute__(cls, "__module__"))
            if _allowed(module, specs) or not self._first_party(module, frame):
                self._fine[ident] = cls
                return None
            info = _NonCanonical(cls, path, specs[0], None, self._bad_base(cls))
            location = self._definition(cls, frame)
            info.defined_at = self.guard.display(location)
            self._bad[ident] = info
            self._report_definition(info, location)
            self._wrap(cls, info.path, singleton=False)
            return info
        parent = self._bad_parent(cls)
        if parent is not None:
            location = self._definition(cls, frame)
            base_path = parent.path if parent.base is None else parent.base
            info = _NonCanonical(cls, path, parent.spec, self.guard.display(location), base_path)
            self._bad[ident] = info
            self._wrap(cls, path, singleton=False)
            return info
        if frame is None:
            # Only remembered off the class-statement path: classes reaching a wrapper or a
            # scan are few, while every class statement passes here (no leak, no pinning).
            self._fine[ident] = cls
        return None

    def _bad_parent(self, cls: type) -> _NonCanonical | None:
        """The nearest non-canonical base class of *cls*, if any."""
        if self._bad:
            for base in type.__getattribute__(cls, "__mro__")[1:]:
                parent = self._bad.get(id(base))
                if parent is not None:
                    return parent
        return None

    def _bad_base(self, cls: type) -> str | None:
        parent = self._bad_parent(cls)
        if parent is None:
            return None
        return parent.path if parent.base is None else parent.base

    def _first_party(self, module: str, frame: FrameType | None) -> bool:
        """Only first-party classes can be duplicates (SPEC §1 scope): a library's own
        ``Manager`` or ``Settings`` is not the application's single source of truth."""
        known = self._scope.get(module)
        if known is not None:
            return known
        if module == "ssot_guard" or module.startswith("ssot_guard."):
            known = module.startswith(_DEMO_APP)
        else:
            loaded = sys.modules.get(module)
            origin = module_dict(loaded).get("__file__") if loaded is not None else None
            if origin is None and frame is not None:
                origin = frame.f_globals.get("__file__")
            origin = origin if isinstance(origin, str) else None
            # A project file counts under any module name: ``__main__`` or a second
            # ``sys.path`` root (``db.manager`` beside ``app.db.manager``) is a duplicate.
            scope = self.guard.scope
            known = scope.is_first_party(module, origin) or scope.path_is_first_party(origin)
        self._scope[module] = known
        return known

    def _canonical(self, cls: type, spec: CanonicalSpec, frame: FrameType | None) -> None:
        location = self._definition(cls, frame)
        self._seen[spec.path] = self.guard.display(location)
        if spec.singleton and id(cls) not in self._owners:
            self._wrap(cls, spec.path, singleton=True)
        elif not spec.singleton:
            self._fine[id(cls)] = cls

    def _wrap(self, cls: type, path: str, *, singleton: bool) -> None:
        if wrapper_in(cls) is not None:
            return  # a copy of a wrapped class (``@dataclass(slots=True)``): already covered
        if isinstance(cls, enum.EnumMeta):
            return  # ``Color(1)`` looks a member up; enum members are made with the class
        try:
            if singleton:
                record = install_wrapper(cls, None, self._after)
            else:
                record = install_wrapper(cls, self._before, None)
        except (TypeError, AttributeError) as error:
            self._not_wrapped(path, error)
            return
        self._owners[id(cls)] = record

    def _not_wrapped(self, path: str, error: BaseException) -> None:
        """C types cannot take a wrapper: note it (summary and one ``info`` log line)."""
        reason = f"{type(error).__name__}: {error}"
        if path in self._unwrapped:
            return
        self._unwrapped[path] = reason
        with self.guard.busy():
            try:
                self.guard.policy.log(
                    "ssot_guard.internal_error",
                    "info",
                    feature=self.feature,
                    subject=path,
                    error=f"cannot wrap {path} ({type(error).__name__}); SSOT004 not checked",
                )
            except Exception:  # pragma: no cover - logging must not break the program
                pass

    def _report_definition(self, info: _NonCanonical, location: Location) -> None:
        if info.path in self._reported:  # a reload re-creates the same class
            return
        self._reported.add(info.path)
        canonical = info.spec.path
        self.guard.violation(
            "SSOT005",
            subject=info.path,
            message=f"class {info.path} duplicates the canonical class {canonical}",
            location=location,
            canonical=canonical,
            canonical_location=self._seen.get(canonical),
        )

    def _definition(self, cls: type, frame: FrameType | None) -> Location:
        """Where a class is defined: the class statement, else its source, else its file."""
        module_name = str(type.__getattribute__(cls, "__module__"))
        if frame is not None:
            code = frame.f_code
            return Location(code.co_filename, frame.f_lineno, frame.f_globals.get("__name__"))
        module = sys.modules.get(module_name)
        filename = module_dict(module).get("__file__") if module is not None else None
        line = cls.__dict__.get("__firstlineno__")
        if not isinstance(line, int):
            line = 0
            with self.guard.busy():
                try:
                    _lines, start = inspect.findsource(cls)
                    line = start + 1
                except Exception:
                    pass
        if not isinstance(filename, str):
            filename = f"<module {module_name}>"
        return Location(filename, line, module_name)

    def _is_loaded(self, path: str) -> bool:
        if path in self._seen:
            return True
        spec = self._specs[path]
        module = sys.modules.get(spec.module)
        if not isinstance(module, ModuleType):
            return False
        value = module_dict(module).get(spec.qualname)
        return isinstance(value, type) and _is_type(value) and class_path(value) == path

    # ------------------------------------------------------------------ instantiation

    def _before(self, cls: type, owner: type) -> GuardTypeError | None:
        """A non-canonical class is about to be instantiated (SSOT004).

        Hot path: a known call site (the immediate caller's code and line) is a dict
        lookup and a count; everything else is in :meth:`_first_instance`.
        """
        try:
            if cls is not owner and id(cls) in self._owners:
                return None  # its own wrapper, further out, did the check
            severity = self._severity["SSOT004"]
            if severity == "off" or not self._active:
                return None
            frame = sys._getframe(2)
            event = self._sites4.get((frame.f_code, frame.f_lineno, id(cls)))
            if event is not None:
                self._recount(event)
            else:
                event = self._first_instance(cls, frame)
                if event is None:
                    return None
            if severity == "error" and not self.guard.tolerated("SSOT004", event.subject):
                return GuardTypeError(
                    f"SSOT004 non-canonical-instance: {event.message} at {event.location}"
                )
            return None
        except Exception as failure:  # a bug here must never break the caller
            self._fail(failure)
            return None

    def _first_instance(self, cls: type, frame: FrameType) -> Event | None:
        try:
            info = self._bad.get(id(cls))
            if info is None:
                info = self._classify(cls, None)  # a copy or a subclass made by type()
                if info is None:
                    return None
            site = self._site(frame, cls)
            event = self.guard.violation(
                "SSOT004",
                subject=info.path,
                message=info.message,
                location=_location(site),
                canonical=info.spec.path,
                canonical_location=self._seen.get(info.spec.path),
                defined_at=info.defined_at,
                subclass_of=info.base,
            )
            if event is not None and site is frame and len(self._sites4) < MAX_SITES:
                self._sites4[(frame.f_code, frame.f_lineno, id(cls))] = event
            return event
        except Exception as error:
            self._fail(error)
            return None

    def _singleton(self, cls: type) -> _Singleton | None:
        known = self._singleton_of.get(id(cls))
        if known is not None:
            return known[1]
        state = self._singletons.get(class_path(cls))
        with self._lock:
            self._singleton_of[id(cls)] = (cls, state)
        return state

    def _after(self, cls: type, owner: type, instance: object) -> GuardTypeError | None:
        """An instance of a singleton class exists; ``__init__`` has not run (SSOT007)."""
        try:
            if type(instance) is not cls or not self._active:
                return None
            state = self._singleton(cls)
            if state is None or state.is_first(instance):
                return None
            frame = sys._getframe(2)
            with state.lock:
                if not state.has_first:
                    site = self._site(frame, cls)
                    state.remember(instance, self.guard.display(_location(site)))
                    return None
            severity = self._severity["SSOT007"]
            if severity == "off":
                return None
            event = self._sites7.get((frame.f_code, frame.f_lineno, id(cls)))
            if event is not None:
                self._recount(event)
            else:
                event = self._second_instance(cls, state, frame)
                if event is None:
                    return None
            if severity == "error" and not self.guard.tolerated("SSOT007", event.subject):
                return GuardTypeError(
                    f"SSOT007 second-singleton: {event.message} at {event.location} "
                    f"(first instance created at {state.first_location})"
                )
            return None
        except Exception as failure:  # a bug here must never break the caller
            self._fail(failure)
            return None

    def _second_instance(self, cls: type, state: _Singleton, frame: FrameType) -> Event | None:
        try:
            site = self._site(frame, cls)
            path = state.spec.path
            event = self.guard.violation(
                "SSOT007",
                subject=path,
                message=f"a second instance of singleton class {path} was created",
                location=_location(site),
                canonical=path,
                first_location=state.first_location,
            )
            if event is not None and site is frame and len(self._sites7) < MAX_SITES:
                self._sites7[(frame.f_code, frame.f_lineno, id(cls))] = event
            return event
        except Exception as error:
            self._fail(error)
            return None

    def _site(self, frame: FrameType | None, cls: type) -> FrameType | None:
        """The user frame that asked for the instance (metaclass ``__call__``, ``super()``
        chains of ``__new__`` and standard-library helpers are skipped)."""
        codes = self._codes.get(id(cls))
        if codes is None:
            codes = self._codes[id(cls)] = _factory_codes(cls)
        skip = self._skip
        while frame is not None:
            code = frame.f_code
            internal = skip.get(code)
            if internal is None:
                internal = skip[code] = _is_helper(code.co_filename)
            if not internal and code not in codes:
                return frame
            frame = frame.f_back
        return None


def _has_base_in(cls: object, classes: dict[int, Any]) -> bool:
    """Whether a base of *cls* along its MRO is one of *classes* (by ``id``): the class
    statement's filter while a non-canonical class exists (its subclasses are too)."""
    try:
        mro = type.__getattribute__(cls, "__mro__")
    except TypeError:  # a metaclass returned something else
        return False
    return any(id(base) in classes for base in mro[1:])


def _location(frame: FrameType | None) -> Location:
    if frame is None:
        return Location("<unknown>", 0, None)
    return Location(frame.f_code.co_filename, frame.f_lineno, frame.f_globals.get("__name__"))


def _allowed(module: str, specs: Iterable[CanonicalSpec]) -> bool:
    for spec in specs:
        for allowed in spec.allow:
            if module == allowed or module.startswith(allowed + "."):
                return True
    return False


def _subclasses(cls: type) -> Iterator[type]:
    """Every subclass of *cls*, depth first, each once."""
    seen: set[int] = set()
    stack = [cls]
    while stack:
        current = stack.pop()
        try:
            children: list[type] = type.__subclasses__(current)
        except TypeError:  # pragma: no cover
            continue
        for child in children:
            if id(child) not in seen:
                seen.add(id(child))
                yield child
                stack.append(child)


def _functions(value: object) -> Iterator[types.FunctionType]:
    """The Python functions behind a method (following ``__wrapped__`` a few steps)."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    for _ in range(8):
        if value is None or isinstance(value, type):
            return
        if isinstance(value, types.FunctionType):
            yield value
        value = getattr(value, "__wrapped__", None)


def _factory_codes(cls: type) -> frozenset[CodeType]:
    """Code objects between the caller and the ``__new__`` wrapper: metaclass ``__call__``
    and ``__new__`` methods along the MRO (``super().__new__`` chains)."""
    codes: set[CodeType] = set()
    for meta in inspect.getmro(type(cls)):
        for function in _functions(meta.__dict__.get("__call__")):
            codes.add(function.__code__)
    for klass in type.__getattribute__(cls, "__mro__"):
        for function in _functions(klass.__dict__.get("__new__")):
            codes.add(function.__code__)
    return frozenset(codes)
