"""A Graphviz DOT graph of the first-party imports, with the edges that close a cycle in red.

Import records give the tree edges (importer -> imported, the first time each module ran).
A cycle never shows up as a record: the module it reaches back to is already in
``sys.modules``, still executing. The cycle rules (SSOT001 partial-module-access, SSOT002
import-cycle) record it as a chain from the module still initialising to the accessor;
the edge accessor -> initialising module closes the cycle and is drawn in red, labelled
with the rule and the ``file:line`` of the statement. Render with
``dot -Tpng graph.dot -o graph.png``.
"""

from __future__ import annotations

from typing import Any, Final

from ._tree import Node, forest

CYCLE_RULES: Final = ("SSOT001", "SSOT002")
RED: Final = "#d62728"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _attrs(values: dict[str, str]) -> str:
    if not values:
        return ""
    return " [" + ", ".join(f"{key}={_quote(value)}" for key, value in values.items()) + "]"


def _included(record: dict[str, Any]) -> bool:
    # The program's entry point belongs in its own graph even when `packages` names
    # only the package, because the record's name is then "__main__".
    return bool(record["first_party"]) or record["name"] == "__main__"


def render_dot(report: dict[str, Any]) -> str:
    """The first-party import graph as DOT text."""
    nodes: dict[str, dict[str, str]] = {}
    for record in sorted(report["imports"], key=lambda r: r["seq"]):
        if not _included(record) or record["name"] in nodes:
            continue
        attrs = {"tooltip": record["origin"]}
        if record["outcome"] not in ("ok", "SystemExit"):
            attrs.update(
                label=f"{record['name']}\nraised {record['outcome']}",
                color=RED,
                style="rounded,filled,dashed",
            )
        nodes[record["name"]] = attrs
    # Tree edges: from the nearest first-party ancestor, dashed when the import went
    # through third-party modules in between (their names are in the tooltip).
    edges: dict[tuple[str, str], dict[str, str]] = {}
    pending: list[tuple[Node, str | None, list[str]]] = [
        (root, None, []) for roots in forest(report).values() for root in reversed(roots)
    ]
    while pending:
        node, ancestor, via = pending.pop()
        record = node.record
        if _included(record):
            if ancestor is not None and ancestor != node.name:
                attrs = {"tooltip": record["location"] or ""}
                if via:
                    attrs = {"tooltip": "via " + " -> ".join(via), "style": "dashed"}
                edges.setdefault((ancestor, node.name), attrs)
            next_ancestor: str | None = node.name
            next_via: list[str] = []
        else:
            next_ancestor, next_via = ancestor, [*via, node.name]
        for item in reversed(node.children):
            pending.append((item, next_ancestor, next_via))

    closing: dict[tuple[str, str], list[str]] = {}
    in_cycle: dict[str, None] = {}
    for event in report["events"]:
        chain = event["chain"]
        if event["rule"] not in CYCLE_RULES or len(chain) < 2:
            continue
        first, last = chain[0]["module"], chain[-1]["module"]
        for link in chain:
            in_cycle.setdefault(link["module"], None)
            nodes.setdefault(link["module"], {})
        label = f"{event['rule']} {event['location']}" if event["location"] else event["rule"]
        labels = closing.setdefault((last, first), [])
        if label not in labels:
            labels.append(label)

    lines = [
        "digraph ssot_guard {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, labelloc=t, '
        'label="first-party imports (red: the import that closes a cycle)"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#5b7db1", '
        'fontname="Helvetica", fontsize=11];',
        '  edge [color="#6b6b6b", fontname="Helvetica", fontsize=9];',
    ]
    for name, attrs in nodes.items():
        if name in in_cycle:
            attrs = {**attrs, "fillcolor": "#fde0dd", "color": RED}
        lines.append(f"  {_quote(name)}{_attrs(attrs)};")
    for (parent, child), attrs in edges.items():
        lines.append(f"  {_quote(parent)} -> {_quote(child)}{_attrs(attrs)};")
    for (source, target), labels in closing.items():
        attrs = {
            "color": RED,
            "fontcolor": RED,
            "penwidth": "2",
            "style": "bold",
            "constraint": "false",
            "label": "\n".join(labels),
        }
        lines.append(f"  {_quote(source)} -> {_quote(target)}{_attrs(attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
