"""Report renderers on golden files, and the report loader's errors (SPEC §3.3).

Regenerate the expected outputs after an intended change with
``SSOT_GUARD_UPDATE_GOLDEN=1 pytest tests/test_render.py`` and review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ssot_guard.render import ReportError, load_report, render, validate_report
from ssot_guard.render._tree import forest
from ssot_guard.render.text import render_text
from ssot_guard.render.trace import render_trace

GOLDEN = Path(__file__).parent / "golden"
REPORT = GOLDEN / "cycle_report.json"
UPDATE = os.environ.get("SSOT_GUARD_UPDATE_GOLDEN") == "1"

EXPECTED = {
    "text": "cycle_report.txt",
    "importtime": "cycle_report.importtime.txt",
    "trace": "cycle_report.trace.json",
    "dot": "cycle_report.dot",
}


def report() -> dict[str, Any]:
    return load_report(REPORT)


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_renderer_matches_golden_file(fmt: str) -> None:
    path = GOLDEN / EXPECTED[fmt]
    output = render(report(), fmt)
    if UPDATE:
        path.write_text(output, encoding="utf-8")
    assert output == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", [*sorted(EXPECTED), "json"])
def test_renderers_are_pure(fmt: str) -> None:
    data = report()
    before = copy.deepcopy(data)
    assert render(data, fmt) == render(data, fmt)
    assert data == before


def test_json_format_round_trips() -> None:
    assert json.loads(render(report(), "json")) == json.loads(REPORT.read_text())


# ------------------------------------------------------------------ importtime


def tuna_tree(text: str) -> dict[str, Any]:
    """The parsing of tuna 0.5 ``read_import_profile`` (indentation -> tree), inlined."""
    lines = text.splitlines()
    assert lines[0] == "import time: self [us] | cumulative | imported package"
    entries = []
    for line in lines[1:]:
        assert line.startswith("import time: ")
        items = line[len("import time: ") :].split(" | ")
        assert len(items) == 3
        name = items[2].lstrip()
        spaces = len(items[2]) - len(name)
        assert spaces % 2 == 0
        entries.append((name, spaces // 2 + 1, int(items[0])))
    root: dict[str, Any] = {"name": "main", "children": []}
    last = {0: root}
    for name, level, self_us in reversed(entries):
        parent = level - 1
        while parent > 0 and parent not in last:
            parent -= 1
        node = {"name": name, "self": self_us, "children": []}
        last[parent]["children"].append(node)
        last[level] = node
    return root


def test_importtime_lines_have_cpython_format_and_order() -> None:
    text = render(report(), "importtime")
    lines = text.splitlines()
    pattern = re.compile(r"^import time: {1,}\d{1,9} \| {1,}\d{1,10} \| ( {2})*\S+$")
    assert all(pattern.match(line) for line in lines[1:]), lines
    # Field widths exactly as CPython's "%9ld | %10ld | %*s%s".
    assert lines[1] == "import time:       500 |        500 |     json.decoder"
    names = [line.split(" | ")[2].strip() for line in lines[1:]]
    # Children before their parent; threads one after the other.
    assert names.index("json.decoder") < names.index("json") < names.index("__main__")
    assert names.index("app.db.session") < names.index("app.db") < names.index("app")
    assert names[-2:] == ["app.ws.factory", "app.ws"]


def test_importtime_tree_as_tuna_reads_it() -> None:
    tree = tuna_tree(render(report(), "importtime"))

    def shape(node: dict[str, Any]) -> Any:
        return {child["name"]: shape(child) for child in node["children"]}

    assert shape(tree) == {
        "app.ws": {"app.ws.factory": {}},
        "__main__": {
            "app": {
                "app.plugins": {},
                "app.db": {"app.db.session": {}},
                "app.config.base": {"app.config.environment": {}},
                "app.config": {},
            },
            "json": {"json.decoder": {}},
        },
    }


def test_importtime_readable_by_tuna_when_installed(tmp_path: Path) -> None:
    tuna = pytest.importorskip("tuna._import_profile")
    path = tmp_path / "imports.txt"
    path.write_text(render(report(), "importtime"), encoding="utf-8")
    tree = tuna.read_import_profile(str(path))
    names = sorted(child["text"][0] for child in tree["children"])
    assert names == ["__main__", "app.ws"]


# ------------------------------------------------------------------ trace


def test_trace_tracks_slices_nesting_and_instants() -> None:
    trace = render_trace(report())
    events = trace["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert names == {1: "MainThread", 2: "worker"}
    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == 12
    by_name = {e["name"]: e for e in slices}
    assert by_name["app.ws.factory"]["tid"] == 2
    # Every slice lies inside its parent's slice on the same track.
    for item in slices:
        parent = item["args"]["parent"]
        if parent in by_name and by_name[parent]["tid"] == item["tid"]:
            outer = by_name[parent]
            assert outer["ts"] <= item["ts"]
            assert item["ts"] + item["dur"] <= outer["ts"] + outer["dur"], item["name"]
    # app.db.session ends 1 us after app.db after rounding: clamped into it.
    assert (by_name["app.db.session"]["ts"], by_name["app.db.session"]["dur"]) == (3400, 1400)
    instants = [e for e in events if e["ph"] == "i"]
    assert [(e["name"], e["tid"], e["ts"]) for e in instants] == [
        ("SSOT001 partial-module-access", 1, 1350),
        ("SSOT002 import-cycle", 1, 3500),
        # No at_us in the file: placed at the import of the module holding the statement.
        ("SSOT009 missing-import", 2, 7600),
        ("SSOT004 non-canonical-instance", 1, 4700),
    ]
    assert instants[1]["args"]["chain"] == (
        "app (main.py:2) -> app.db (app/__init__.py:2) -> app.db.session (app/db/__init__.py:1)"
    )
    assert all(e["s"] == "t" for e in instants)


# ------------------------------------------------------------------ dot


def test_dot_highlights_the_edges_that_close_a_cycle() -> None:
    text = render(report(), "dot")
    red = [line.strip() for line in text.splitlines() if "->" in line and "#d62728" in line]
    assert [line.split(" [")[0] for line in red] == [
        '"app.config.environment" -> "app.config.base"',
        '"app.db.session" -> "app"',
    ]
    assert 'label="SSOT002 app/db/session.py:2"' in red[1]
    assert '"json"' not in text  # third-party modules are left out
    assert '"app" -> "app.plugins"' in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
def test_dot_is_valid_graphviz() -> None:
    proc = subprocess.run(
        ["dot", "-Tsvg"], input=render(report(), "dot"), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout


# ------------------------------------------------------------------ text options


def test_text_top_and_depth_options() -> None:
    text = render_text(report(), top=2, max_depth=0)
    assert "Slowest imports (cumulative, top 2)" in text
    slow = text.split("Slowest imports")[1].split("Import tree")[0]
    assert [line.split()[-1] for line in slow.strip().splitlines()[3:]] == ["__main__", "app"]
    tree = text.split("Import tree (MainThread)")[1]
    assert "  app  " not in tree and "__main__  9.000 ms" in tree


def test_empty_report_renders_in_every_format() -> None:
    data = report()
    data["imports"], data["events"] = [], []
    assert "Violations\n----------\nnone" in render(data, "text")
    assert render(data, "importtime") == "import time: self [us] | cumulative | imported package\n"
    assert json.loads(render(data, "trace"))["traceEvents"][0]["name"] == "process_name"
    assert render(data, "dot").startswith("digraph ssot_guard {")


def test_tree_trusts_parent_names_when_depths_disagree() -> None:
    data = report()
    for record in data["imports"]:
        if record["name"] == "app.db.session":
            record["depth"] = 7  # hand-edited nonsense
    roots = forest(data)
    app = next(n for n in roots["MainThread"][0].children if n.name == "app")
    db = next(n for n in app.children if n.name == "app.db")
    assert [n.name for n in db.children] == ["app.db.session"]


# ------------------------------------------------------------------ loading


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "report.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def mutated(change: Any) -> str:
    data = json.loads(REPORT.read_text())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file, expected a JSON report"),
        ("{not json", "not valid JSON (line 1, column 2: Expecting property name"),
        (b"\xff\xfe\x00binary", "not a JSON report (not UTF-8 text: byte 0)"),
        ("[1, 2]", "not an ssot_guard report: expected a JSON object at the top level, got a list"),
        (
            '{"traceEvents": []}',
            "not an ssot_guard report (no 'schema' key; top-level keys: traceEvents)",
        ),
        (
            mutated(lambda d: d.update(schema="ssot_guard.report/2")),
            "unsupported report schema 'ssot_guard.report/2'",
        ),
        (mutated(lambda d: d.pop("imports")), "missing top-level key 'imports'"),
        (mutated(lambda d: d.update(events={})), "events: expected a list, got an object"),
        (
            mutated(lambda d: d["imports"][3].pop("self_us")),
            "imports[3]: missing field 'self_us'",
        ),
        (
            mutated(lambda d: d["imports"][0].update(start_us="12")),
            "imports[0].start_us: expected an integer, got a string",
        ),
        (
            mutated(lambda d: d["imports"][0].update(depth=True)),
            "imports[0].depth: expected an integer, got a boolean",
        ),
        (
            mutated(lambda d: d["events"][1]["chain"].append({"module": 3})),
            "events[1].chain[3].module: expected a string, got a number",
        ),
        (
            mutated(lambda d: d["events"][0].update(at_us=1.5)),
            "events[0].at_us: expected an integer, got a number",
        ),
        (mutated(lambda d: d["preloaded"].append(None)), "preloaded[3]: expected a string"),
    ],
)
def test_malformed_report_files(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ReportError) as info:
        load_report(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_and_directory_report_paths(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"nothing\.json: no such file$"):
        load_report(tmp_path / "nothing.json")
    with pytest.raises(ReportError, match="is a directory"):
        load_report(tmp_path)


def test_validate_accepts_unknown_extra_keys() -> None:
    data = report()
    data["future"] = {"x": 1}
    data["imports"][0]["new_field"] = 1
    assert validate_report(data) is data


def test_rule_names_come_from_the_rule_table() -> None:
    data = report()
    data["events"][0]["name"] = "DEFAULT_RATE_LIMIT"  # a rule field shadowing the name
    assert "SSOT001 partial-module-access: 1 violation" in render(data, "text")
    instants = [e for e in render_trace(data)["traceEvents"] if e["ph"] == "i"]
    assert instants[0]["name"] == "SSOT001 partial-module-access"


def test_dot_links_first_party_modules_through_third_party_ones() -> None:
    data = report()
    for record in data["imports"]:
        if record["name"] == "__main__":
            record["first_party"] = False  # `packages` set: "__main__" is not in it
        if record["name"] == "json.decoder":  # json.decoder imports a first-party plugin
            record["first_party"] = True
    text = render(data, "dot")
    assert '"__main__" -> "app" [tooltip="main.py:2"];' in text
    assert '"__main__" -> "json.decoder" [tooltip="via json", style="dashed"];' in text


def test_importtime_header_and_line_shape_match_the_interpreter() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json"],
        capture_output=True,
        text=True,
        check=True,
    )
    real = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    ours = render(report(), "importtime").splitlines()
    assert ours[0] == real[0]
    json_line = next(line for line in real if line.endswith("| json"))
    # Same column positions: "import time: " + 9 digits + " | " + 10 digits + " | ".
    assert json_line.index("| json") == ours[2].index("|   json") == 36
