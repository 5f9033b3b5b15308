"""Import timings in exactly the ``python -X importtime`` format.

CPython prints one line per module when its import finishes (so children come before
their parent), indented two spaces per nesting level, after a header line. Viewers such
as ``tuna`` rebuild the tree from that indentation, so the lines are emitted thread by
thread (CPython interleaves threads, which such viewers cannot untangle).
"""

from __future__ import annotations

from typing import Any, Final

from ._tree import Node, forest

HEADER: Final = "import time: self [us] | cumulative | imported package"


def _postorder(nodes: list[Node], level: int, out: list[str]) -> None:
    for node in nodes:
        _postorder(node.children, level + 1, out)
        record = node.record
        indent = " " * (level * 2)
        # CPython: fprintf("import time: %9ld | %10ld | %*s%s\n", self, cumulative, ...)
        out.append(
            f"import time: {record['self_us']:9d} | {record['cumulative_us']:10d} | "
            f"{indent}{record['name']}"
        )


def render_importtime(report: dict[str, Any]) -> str:
    """The report's imports as ``-X importtime`` lines (header first, newline-terminated)."""
    lines = [HEADER]
    for roots in forest(report).values():
        _postorder(roots, 0, lines)
    return "\n".join(lines) + "\n"
