"""The import tree of a report: records nested by parent, one forest per thread.

A record names its parent module only by name, and a name can occur twice (a reload, a
module imported again after its body raised), so nesting is rebuilt from the per-thread
order (``seq``) and ``depth``, with the parent's name as a check, the way the guard's
own import stack produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, eq=False)
class Node:
    """One import record and the imports made while its body ran."""

    record: dict[str, Any]
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.record["name"])


def thread_order(report: dict[str, Any]) -> list[str]:
    """Thread names in order of their first import (then of their first event)."""
    seen: dict[str, None] = {}
    for record in sorted(report["imports"], key=lambda r: r["seq"]):
        seen.setdefault(record["thread"], None)
    for event in report["events"]:
        seen.setdefault(event["thread"], None)
    return list(seen)


def forest(report: dict[str, Any]) -> dict[str, list[Node]]:
    """``{thread: [root nodes]}``, threads and siblings in import order."""
    roots: dict[str, list[Node]] = {name: [] for name in thread_order(report)}
    stacks: dict[str, list[Node]] = {}
    for record in sorted(report["imports"], key=lambda r: r["seq"]):
        thread = record["thread"]
        stack = stacks.setdefault(thread, [])
        depth = record["depth"]
        while stack and stack[-1].record["depth"] >= depth:
            stack.pop()
        parent = record["parent"]
        if stack and parent is not None and stack[-1].name != parent:
            # Depth and parent disagree (a hand-edited or truncated report): trust the name.
            for index in range(len(stack) - 1, -1, -1):
                if stack[index].name == parent:
                    del stack[index + 1 :]
                    break
            else:
                stack.clear()
        node = Node(record)
        if stack and parent is not None:
            stack[-1].children.append(node)
        else:
            roots[thread].append(node)
        stack.append(node)
    return roots


def walk(nodes: list[Node], level: int = 0) -> list[tuple[int, Node]]:
    """Pre-order ``(level, node)`` pairs."""
    out: list[tuple[int, Node]] = []
    pending = [(level, node) for node in reversed(nodes)]
    while pending:
        depth, node = pending.pop()
        out.append((depth, node))
        pending.extend((depth + 1, child) for child in reversed(node.children))
    return out
