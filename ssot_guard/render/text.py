"""The text summary of a report: violations by rule, slowest imports, the import tree."""

from __future__ import annotations

import json
from typing import Any, Final

from . import rule_name
from ._tree import forest, walk

_EVENT_BASE: Final = frozenset(
    {
        "rule",
        "name",
        "severity",
        "subject",
        "location",
        "chain",
        "thread",
        "count",
        "message",
        "at_us",
    }
)


def _ms(us: int) -> str:
    return f"{us / 1000:.3f} ms"


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _violations(report: dict[str, Any]) -> list[str]:
    events = report["events"]
    if not events:
        return [*_heading("Violations"), "none"]
    lines = _heading("Violations by rule")
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_rule.setdefault(event["rule"], []).append(event)
    for rule in sorted(by_rule):
        group = by_rule[rule]
        occurrences = sum(event["count"] for event in group)
        lines.append(
            f"{rule} {rule_name(group[0])}: {_plural(len(group), 'violation')}, "
            f"{_plural(occurrences, 'occurrence')}"
        )
        for event in group:
            where = event["location"] or "unknown location"
            times = f" (x{event['count']})" if event["count"] > 1 else ""
            thread = f" [thread {event['thread']}]" if event["thread"] != "MainThread" else ""
            lines.append(f"  {event['severity']:<5}  {event['subject']}  at {where}{times}{thread}")
            indent = " " * 9
            if event.get("message"):
                lines.append(f"{indent}{event['message']}")
            for position, link in enumerate(event["chain"]):
                prefix = "chain: " if position == 0 else "    -> "
                location = f"  ({link['location']})" if link["location"] else ""
                lines.append(f"{indent}{prefix}{link['module']}{location}")
            for key in sorted(set(event) - _EVENT_BASE):
                if event[key] is not None:
                    lines.append(f"{indent}{key}: {_value(event[key])}")
    return lines


def _slowest(report: dict[str, Any], top: int) -> list[str]:
    records = sorted(report["imports"], key=lambda r: (-r["cumulative_us"], r["seq"]))[:top]
    lines = _heading(f"Slowest imports (cumulative, top {top})")
    if not records:
        return [*lines, "none"]
    lines.append(f"{'cumulative':>12}  {'self':>12}  module")
    for record in records:
        lines.append(
            f"{_ms(record['cumulative_us']):>12}  {_ms(record['self_us']):>12}  {record['name']}"
        )
    return lines


def _tree(report: dict[str, Any], max_depth: int | None) -> list[str]:
    trees = forest(report)
    lines: list[str] = []
    for thread, roots in trees.items():
        if not roots:
            continue
        lines += _heading(f"Import tree ({thread})")
        for level, node in walk(roots):
            if max_depth is not None and level > max_depth:
                continue
            record = node.record
            marks = []
            if record["first_party"]:
                marks.append("first-party")
            if record["outcome"] != "ok":
                marks.append(f"raised {record['outcome']}")
            if record.get("reload"):
                marks.append("reload")
            where = f"  from {record['location']}" if record["location"] else ""
            mark = f"  [{', '.join(marks)}]" if marks else ""
            lines.append(
                f"{'  ' * level}{record['name']}  {_ms(record['cumulative_us'])}{where}{mark}"
            )
    if not lines:
        lines = [*_heading("Import tree"), "no imports recorded"]
    return lines


def render_text(report: dict[str, Any], *, top: int = 10, max_depth: int | None = None) -> str:
    """Violations by rule with chains and locations, the *top* slowest imports, the tree.

    *max_depth* limits the tree (0: top-level imports only); ``None`` shows all of it.
    """
    python = report["python"]
    config = report["config"]
    imports = report["imports"]
    events = report["events"]
    first_party = sum(1 for record in imports if record["first_party"])
    occurrences = sum(event["count"] for event in events)
    errors = sum(1 for event in events if event["severity"] == "error")
    lines = [
        f"ssot_guard report ({report['schema']}): "
        f"{python.get('implementation', 'Python')} {python.get('version', '?')}, "
        f"mode {config.get('mode', '?')}",
        f"{_plural(len(imports), 'import')} ({first_party} first-party), "
        f"{len(report['preloaded'])} preloaded; {_plural(len(events), 'violation')} "
        f"({_plural(occurrences, 'occurrence')}), {errors} at error severity",
    ]
    lines += _violations(report)
    lines += _slowest(report, top)
    lines += _tree(report, max_depth)
    return "\n".join(lines) + "\n"
