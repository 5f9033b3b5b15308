"""A Chrome/Perfetto trace-event file of start-up: one track per thread, one slice per import.

Open the output in https://ui.perfetto.dev or ``chrome://tracing``. Each import is a
complete (``"X"``) slice nested inside the import that triggered it; violations are
instant (``"i"``) events on the thread where they happened. Times are microseconds since
the guard was installed. Slices are clamped into their parent because start and duration
are each rounded down to whole microseconds, which could otherwise end a child 1 µs after
its parent and break the nesting viewers rely on.
"""

from __future__ import annotations

import json
from typing import Any, Final

from . import chain_text, rule_name
from ._tree import Node, forest, thread_order

PID: Final = 1

#: Keys of an event that are rendered specially or not at all in the instant's args.
_EVENT_BASE: Final = frozenset(
    {"rule", "name", "severity", "subject", "location", "chain", "thread", "count", "at_us"}
)


def _slices(nodes: list[Node], tid: int, low: int, high: int | None, out: list[Any]) -> None:
    for node in nodes:
        record = node.record
        start = max(record["start_us"], low)
        end = max(start, record["start_us"] + record["cumulative_us"])
        if high is not None:
            start = min(start, high)
            end = min(end, high)
        args: dict[str, Any] = {
            "self_us": record["self_us"],
            "cumulative_us": record["cumulative_us"],
            "parent": record["parent"],
            "location": record["location"],
            "origin": record["origin"],
            "outcome": record["outcome"],
            "first_party": record["first_party"],
        }
        out.append(
            {
                "name": record["name"],
                "cat": "import,first-party" if record["first_party"] else "import",
                "ph": "X",
                "ts": start,
                "dur": end - start,
                "pid": PID,
                "tid": tid,
                "args": args,
            }
        )
        _slices(node.children, tid, start, end, out)


def _event_time(event: dict[str, Any], report: dict[str, Any]) -> int:
    """When the event first occurred.

    Reports without ``at_us`` (hand-made, or older) place it at the start of the import of
    the module holding the statement (same thread), else of the chain's accessor or the
    subject, else at 0.
    """
    at = event.get("at_us")
    if isinstance(at, int):
        return at
    records = [r for r in report["imports"] if r["thread"] == event["thread"]]
    location = event["location"]
    if location:
        filename = location.rpartition(":")[0] or location
        for record in records:
            origin = record["origin"].replace("\\", "/")
            if origin == filename or origin.endswith("/" + filename):
                return int(record["start_us"])
    candidates = [link["module"] for link in reversed(event["chain"])] + [event["subject"]]
    for name in candidates:
        for record in records:
            if record["name"] == name:
                return int(record["start_us"])
    return 0


def render_trace(report: dict[str, Any]) -> dict[str, Any]:
    """The trace-event document (a dict ready for ``json.dump``)."""
    python = report["python"]
    version = f"{python.get('implementation', 'Python')} {python.get('version', '')}".strip()
    out: list[Any] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": PID,
            "tid": 0,
            "args": {"name": f"{version} imports (ssot_guard)"},
        }
    ]
    tids = {thread: index for index, thread in enumerate(thread_order(report), start=1)}
    for thread, tid in tids.items():
        out.append(
            {"name": "thread_name", "ph": "M", "pid": PID, "tid": tid, "args": {"name": thread}}
        )
        out.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": PID,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )
    for thread, roots in forest(report).items():
        _slices(roots, tids[thread], 0, None, out)
    for event in report["events"]:
        args: dict[str, Any] = {
            "severity": event["severity"],
            "subject": event["subject"],
            "location": event["location"],
            "count": event["count"],
        }
        if event["chain"]:
            args["chain"] = chain_text(event["chain"])
        for key in sorted(set(event) - _EVENT_BASE):
            args[key] = event[key]
        out.append(
            {
                "name": f"{event['rule']} {rule_name(event)}",
                "cat": "violation",
                "ph": "i",
                "s": "t",
                "ts": _event_time(event, report),
                "pid": PID,
                "tid": tids[event["thread"]],
                "args": args,
            }
        )
    return {
        "traceEvents": out,
        "displayTimeUnit": "ms",
        "otherData": {
            "schema": report["schema"],
            "python": version,
            "mode": report["config"].get("mode"),
        },
    }


def render_trace_json(report: dict[str, Any]) -> str:
    """:func:`render_trace` as JSON text, one trace event per line (diff-friendly)."""
    trace = render_trace(report)
    events = ",\n".join("  " + json.dumps(item, sort_keys=True) for item in trace["traceEvents"])
    rest = {key: value for key, value in trace.items() if key != "traceEvents"}
    tail = json.dumps(rest, sort_keys=True)[1:-1]
    return '{"traceEvents": [\n' + events + "\n],\n" + tail + "}\n"
