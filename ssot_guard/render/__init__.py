"""Renderers of a saved report (SPEC §3.3) and the loader that validates report files.

Every renderer is a pure function of the report dict that :meth:`ssot_guard.Guard.report`
returns: same dict in, same text out (no clock, no environment, no file system), so the
outputs can be compared against golden files and regenerated from a report saved in CI.
Reports are validated first (:func:`load_report`, :func:`validate_report`) so that a
renderer never meets a half-formed record and a foreign file gives one clear message
instead of a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from .._errors import SSOTGuardError

#: The schema family this version reads; ``ssot_guard.report/<major>``.
SCHEMA_PREFIX: Final = "ssot_guard.report/"
SUPPORTED_MAJOR: Final = 1

FORMATS: Final = ("text", "json", "importtime", "trace", "dot")


class ReportError(SSOTGuardError, ValueError):
    """A report file that cannot be read: names the file and what is wrong with it."""


_INT = (int,)
_STR = (str,)
_OPT_STR = (str, type(None))

#: Required fields of an import record (SPEC §3.1) and their accepted types.
IMPORT_FIELDS: Final[Mapping[str, tuple[type, ...]]] = {
    "seq": _INT,
    "name": _STR,
    "parent": _OPT_STR,
    "location": _OPT_STR,
    "origin": _STR,
    "thread": _STR,
    "depth": _INT,
    "start_us": _INT,
    "cumulative_us": _INT,
    "self_us": _INT,
    "outcome": _STR,
    "first_party": (bool,),
}

#: Required fields of an event (SPEC §3.2) and their accepted types.
EVENT_FIELDS: Final[Mapping[str, tuple[type, ...]]] = {
    "rule": _STR,
    "name": _STR,
    "severity": _STR,
    "subject": _STR,
    "location": _OPT_STR,
    "chain": (list,),
    "thread": _STR,
    "count": _INT,
}

_TOP_LEVEL: Final[Mapping[str, type]] = {
    "config": dict,
    "python": dict,
    "preloaded": list,
    "imports": list,
    "events": list,
    "summary": dict,
}


def _type_name(types: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_fields(
    item: object, fields: Mapping[str, tuple[type, ...]], where: str, source: str
) -> None:
    if not isinstance(item, dict):
        raise ReportError(f"{source}: {where}: expected an object, got {_json_kind(item)}")
    for key, types in fields.items():
        if key not in item:
            raise ReportError(f"{source}: {where}: missing field {key!r}")
        value = item[key]
        # bool is an int subclass: a boolean where a number is expected is malformed.
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise ReportError(
                f"{source}: {where}.{key}: expected {_type_name(types)}, got {_json_kind(value)}"
            )


def validate_report(data: object, source: str = "<report>") -> dict[str, Any]:
    """Check that *data* is an ssot_guard report this version can render; return it.

    Raises :class:`ReportError` naming *source* and the first problem found. Unknown extra
    keys are accepted (newer minor additions); missing or mistyped required ones are not.
    """
    if not isinstance(data, dict):
        raise ReportError(
            f"{source}: not an ssot_guard report: expected a JSON object at the top level, "
            f"got {_json_kind(data)}"
        )
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        found = ", ".join(sorted(map(str, data))[:6]) or "none"
        what = "no 'schema' key" if schema is None else f"schema is {schema!r}"
        raise ReportError(
            f"{source}: not an ssot_guard report ({what}; top-level keys: {found}); "
            f"expected a file written by 'ssot-guard run --report' or Guard.write_report()"
        )
    major = schema[len(SCHEMA_PREFIX) :].split(".", 1)[0]
    if major != str(SUPPORTED_MAJOR):
        raise ReportError(
            f"{source}: unsupported report schema {schema!r}; this version of ssot-guard "
            f"reads {SCHEMA_PREFIX}{SUPPORTED_MAJOR}"
        )
    for key, kind in _TOP_LEVEL.items():
        if key not in data:
            raise ReportError(f"{source}: missing top-level key {key!r}")
        if not isinstance(data[key], kind):
            raise ReportError(
                f"{source}: {key}: expected {_type_name((kind,))}, got {_json_kind(data[key])}"
            )
    for index, record in enumerate(data["imports"]):
        _check_fields(record, IMPORT_FIELDS, f"imports[{index}]", source)
    for index, event in enumerate(data["events"]):
        where = f"events[{index}]"
        _check_fields(event, EVENT_FIELDS, where, source)
        for position, link in enumerate(event["chain"]):
            _check_fields(
                link, {"module": _STR, "location": _OPT_STR}, f"{where}.chain[{position}]", source
            )
        at = event.get("at_us")
        if at is not None and (not isinstance(at, int) or isinstance(at, bool)):
            raise ReportError(f"{source}: {where}.at_us: expected an integer, got {_json_kind(at)}")
    for index, name in enumerate(data["preloaded"]):
        if not isinstance(name, str):
            raise ReportError(
                f"{source}: preloaded[{index}]: expected a string, got {_json_kind(name)}"
            )
    return data


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a report file; every failure is a :class:`ReportError`."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ReportError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{source}: is a directory, expected a report file") from None
    except OSError as error:
        raise ReportError(f"{source}: cannot read ({error.strerror or error})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReportError(
            f"{source}: not a JSON report (not UTF-8 text: byte {error.start})"
        ) from None
    if not text.strip():
        raise ReportError(f"{source}: empty file, expected a JSON report")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise ReportError(f"{source}: not valid JSON (nested too deeply)") from None
    return validate_report(data, source)


def chain_text(chain: list[dict[str, Any]]) -> str:
    """A report event's ``chain`` as ``module (file:line) -> module (file:line)``."""
    return " -> ".join(
        f"{link['module']} ({link['location']})" if link.get("location") else link["module"]
        for link in chain
    )


def rule_name(event: Mapping[str, Any]) -> str:
    """The rule's name from the rule table (a rule field called ``name`` cannot hide it)."""
    from .._rules import BY_CODE

    rule = BY_CODE.get(str(event["rule"]))
    return rule.name if rule is not None else str(event["name"])


def renderer(fmt: str) -> Callable[[dict[str, Any]], str]:
    """The renderer for output format *fmt* (one of :data:`FORMATS`)."""
    if fmt == "text":
        from .text import render_text

        return render_text
    if fmt == "json":
        return render_json
    if fmt == "importtime":
        from .importtime import render_importtime

        return render_importtime
    if fmt == "trace":
        from .trace import render_trace_json

        return render_trace_json
    if fmt == "dot":
        from .dot import render_dot

        return render_dot
    raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render(report: dict[str, Any], fmt: str) -> str:
    """Render a validated *report* in format *fmt*."""
    return renderer(fmt)(report)


def render_json(report: dict[str, Any]) -> str:
    """The report itself, pretty-printed (key order kept)."""
    return json.dumps(report, indent=2) + "\n"


__all__ = [
    "FORMATS",
    "ReportError",
    "load_report",
    "render",
    "render_json",
    "renderer",
    "rule_name",
    "validate_report",
]
