"""Import records, per-thread import stacks and module helpers shared by the hook and rules.

Kept apart from the finder and loader proxy (:mod:`ssot_guard._hook`) because these need no
``wrapt``: a guard built with ``mode="off"`` (the kill switch) imports neither.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from ._frames import Location

if TYPE_CHECKING:
    from ._events import Event


#: ImportRecord's fields in SPEC §3.1 order (``__slots__`` is sorted).
_RECORD_FIELDS: Final = (
    "seq",
    "name",
    "parent",
    "origin",
    "thread",
    "depth",
    "start_us",
    "first_party",
    "location_file",
    "location_line",
    "cumulative_us",
    "self_us",
    "outcome",
    "reload",
    "deferred",
)


class ImportRecord:
    """One executed module, with the fields of SPEC §3.1.

    A plain slotted class, not a dataclass: one is built per import (SPEC §7 budget).
    """

    __slots__ = (
        "cumulative_us",
        "deferred",
        "depth",
        "first_party",
        "location_file",
        "location_line",
        "name",
        "origin",
        "outcome",
        "parent",
        "reload",
        "self_us",
        "seq",
        "start_us",
        "thread",
    )

    def __init__(
        self,
        seq: int,
        name: str,
        parent: str | None,
        origin: str,
        thread: str,
        depth: int,
        start_us: int,
        first_party: bool,
        location_file: str | None = None,
        location_line: int = 0,
        cumulative_us: int = 0,
        self_us: int = 0,
        outcome: str = "ok",
        reload: bool = False,
        deferred: bool = False,
    ) -> None:
        self.seq = seq
        self.name = name
        self.parent = parent
        self.origin = origin
        self.thread = thread
        self.depth = depth
        self.start_us = start_us
        self.first_party = first_party
        self.location_file = location_file
        self.location_line = location_line
        self.cumulative_us = cumulative_us
        self.self_us = self_us
        self.outcome = outcome
        self.reload = reload
        self.deferred = deferred

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _RECORD_FIELDS)
        return f"ImportRecord({fields})"

    def as_tuple(self) -> tuple[Any, ...]:
        """The fields in order: how the guard keeps a finished record. A tuple of strings,
        numbers and ``None`` is not tracked by the garbage collector; thousands of slotted
        objects would be traversed by every full collection (SPEC §7 budget)."""
        return (
            self.seq,
            self.name,
            self.parent,
            self.origin,
            self.thread,
            self.depth,
            self.start_us,
            self.first_party,
            self.location_file,
            self.location_line,
            self.cumulative_us,
            self.self_us,
            self.outcome,
            self.reload,
            self.deferred,
        )

    @property
    def where(self) -> Location | None:
        if self.location_file is None:
            return None
        return Location(self.location_file, self.location_line, self.parent)


class ExecFrame(ImportRecord):
    """A module whose body is executing, on its thread's import stack: its import record
    while it runs, plus the guard's and the rules' bookkeeping.

    Built without an ``__init__`` call and filled by ``Guard._push`` (one per import,
    SPEC §7 budget).
    """

    __slots__ = (
        "children_ns",
        "index",
        "module",
        "notes",
        "started_ns",
        "thread_id",
        "watch",
    )

    #: Where the record sits in the guard's record list (it becomes a tuple there when
    #: the body ends).
    index: int
    module: ModuleType
    thread_id: int
    started_ns: int
    children_ns: int
    #: Free slots for participants (``{"runpy": True}`` for ``__main__``), or None.
    notes: dict[str, Any] | None
    #: What the import rules changed while the body runs (restored by them), or None.
    watch: Any

    def __repr__(self) -> str:
        return f"<ExecFrame {self.name} depth={self.depth}>"


#: Builds an :class:`ExecFrame` without an ``__init__`` call (``Guard._push`` fills it).
new_frame = object.__new__


class ThreadState(threading.local):
    """Per-thread import stack, pending events and re-entrancy flags."""

    def __init__(self) -> None:
        self.stack: list[ExecFrame] = []
        self.pending: deque[tuple[Event, bool]] = deque()
        self.finding: set[str] = set()
        #: While true the thread runs guard code (emitting, reporting): not recorded.
        self.busy: int = 0
        #: The thread's name when it first imported (cached: records are made per import).
        self.thread_name: str = threading.current_thread().name


def module_dict(module: ModuleType) -> dict[str, Any]:
    """A module's namespace without running any ``__getattribute__`` it may have."""
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except Exception:
        return {}
    return namespace if isinstance(namespace, dict) else {}


#: 3.13 names the file of a partially initialised module in its ``AttributeError``.
_ORIGIN_IN_MESSAGE = sys.version_info >= (3, 13)


def missing_attribute(module: ModuleType | None, name: str) -> AttributeError:
    """The ``AttributeError`` CPython raises for a miss on *module* (no ``__getattr__``)."""
    namespace = module_dict(module) if module is not None else {}
    module_name = namespace.get("__name__")
    if not isinstance(module_name, str):
        return AttributeError(f"module has no attribute '{name}'", name=name, obj=module)
    spec = namespace.get("__spec__")
    initializing = False
    uninitialized: Any = ()
    origin: Any = None
    if spec is not None:
        try:
            initializing = bool(getattr(spec, "_initializing", False))
        except Exception:
            initializing = False
        try:  # set by importlib since 3.11 (gh-88880)
            uninitialized = getattr(spec, "_uninitialized_submodules", ()) or ()
        except Exception:
            uninitialized = ()
        if initializing and _ORIGIN_IN_MESSAGE:
            try:
                origin = getattr(spec, "origin", None)
            except Exception:
                origin = None
    if initializing:
        where = f" from '{origin}'" if isinstance(origin, str) else ""
        text = (
            f"partially initialized module '{module_name}'{where} has no attribute '{name}' "
            "(most likely due to a circular import)"
        )
    elif name in uninitialized:
        text = (
            f"cannot access submodule '{name}' of module '{module_name}' "
            "(most likely due to a circular import)"
        )
    else:
        text = f"module '{module_name}' has no attribute '{name}'"
    return AttributeError(text, name=name, obj=module)


def spec_origin(spec: ModuleSpec | None, namespace: dict[str, Any]) -> str:
    if spec is not None:
        if spec.origin:
            return str(spec.origin)
        if spec.submodule_search_locations is not None and spec.loader is None:
            return "namespace"
    file = namespace.get("__file__")
    if isinstance(file, str):
        return file
    return "namespace" if spec is not None and spec.origin is None else "unknown"


#: Monotonic nanoseconds (bound once: called several times per import).
now_ns = time.perf_counter_ns
