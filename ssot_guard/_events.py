"""Events: the data every rule produces, their de-duplication and per-thread buffering.

Events carry names and locations only, never argument, attribute or environment values
(SPEC §3.2). Logging, warnings, exceptions and reports are renderers of these records.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Final

from ._errors import FieldValue, FrozenValue
from ._errors import set_field as _set
from ._rules import BY_CODE

#: Distinct events kept per guard; later distinct events are counted in ``dropped``.
MAX_EVENTS: Final = 10_000


# ChainLink and Event are written out rather than ``@dataclass`` (frozen, slots): creating
# those classes costs about 0.4 ms each at import (SPEC §7). Their bases give the same
# ``==``, ``hash``, ``repr``, pickling and immutability (ChainLink) as the dataclasses.


class ChainLink(FrozenValue):
    """One module of an import chain and the ``file:line`` of the statement that entered it."""

    __slots__ = ("location", "module")
    __match_args__ = ("module", "location")

    module: str
    location: str | None

    def __init__(self, module: str, location: str | None) -> None:
        _set(self, "module", module)
        _set(self, "location", location)

    def as_dict(self) -> dict[str, str | None]:
        return {"module": self.module, "location": self.location}

    def __str__(self) -> str:
        return f"{self.module} ({self.location})" if self.location else self.module


_EVENT_FIELDS: Final = (
    "rule",
    "severity",
    "subject",
    "location",
    "message",
    "chain",
    "thread",
    "count",
    "fields",
    "origin",
    "at_us",
)

#: Default of ``Event.fields``: a new dict per event (a dataclass ``default_factory``).
_NEW_DICT: Any = object()


class Event(FieldValue):
    """One rule occurrence; ``count`` grows with repeats at the same (rule, subject, location)."""

    __slots__ = (
        "at_us",
        "chain",
        "count",
        "fields",
        "location",
        "message",
        "origin",
        "rule",
        "severity",
        "subject",
        "thread",
    )
    __match_args__ = _EVENT_FIELDS

    rule: str
    severity: str
    subject: str
    location: str | None
    message: str
    chain: tuple[ChainLink, ...]
    thread: str
    count: int
    fields: dict[str, Any]
    #: Absolute file, line and module of ``location`` (for warnings; not reported).
    origin: tuple[str, int, str | None] | None
    #: Microseconds since install of the first occurrence (places it on a trace timeline).
    at_us: int | None

    def __init__(
        self,
        rule: str,
        severity: str,
        subject: str,
        location: str | None,
        message: str,
        chain: tuple[ChainLink, ...] = (),
        thread: str = "",
        count: int = 1,
        fields: dict[str, Any] = _NEW_DICT,
        origin: tuple[str, int, str | None] | None = None,
        at_us: int | None = None,
    ) -> None:
        self.rule = rule
        self.severity = severity
        self.subject = subject
        self.location = location
        self.message = message
        self.chain = chain
        self.thread = thread
        self.count = count
        self.fields = {} if fields is _NEW_DICT else fields
        self.origin = origin
        self.at_us = at_us

    @property
    def name(self) -> str:
        return BY_CODE[self.rule].name

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.rule, self.subject, self.location)

    @property
    def event_name(self) -> str:
        return BY_CODE[self.rule].event_name

    def chain_text(self) -> str:
        return " -> ".join(str(link) for link in self.chain)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "subject": self.subject,
            "location": self.location,
            "chain": [link.as_dict() for link in self.chain],
            "thread": self.thread,
            "count": self.count,
            "message": self.message,
        }
        if self.at_us is not None:
            data["at_us"] = self.at_us
        data.update(self.fields)
        return data


class EventStore:
    """De-duplicated events of one guard, in first-seen order, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str, str | None], Event] = {}
        self.dropped = 0

    def reset_lock(self) -> None:
        """Called in a forked child: the parent's lock may be held by a thread gone here."""
        self._lock = threading.Lock()

    def add(self, event: Event) -> tuple[Event, bool]:
        """Store *event*, or count it against the stored one; returns (stored, is_new)."""
        key = event.key
        with self._lock:
            known = self._events.get(key)
            if known is not None:
                known.count += 1
                return known, False
            if len(self._events) >= MAX_EVENTS:
                self.dropped += 1
                return event, False
            self._events[key] = event
            return event, True

    def recount(self, event: Event) -> None:
        """Count one more occurrence of an event returned by :meth:`add`."""
        with self._lock:
            event.count += 1

    def __iter__(self) -> Iterator[Event]:
        with self._lock:
            events = list(self._events.values())
        return iter(events)

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self.dropped = 0
