"""Helpers of the import rules: what a frame is doing, and where a name is defined.

Everything here runs only on the rare paths (a read of a module that is still executing,
a failed ``from M import X``), never on steady-state attribute access. Results that depend
only on a code object and an offset are cached: the same statement is classified once.
"""

from __future__ import annotations

import ast
import dis
import linecache
import re
import sys
import tokenize
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import Any, Final

from .._frames import IMPORT_NAME as IMPORT_NAME  # re-exported for the rules
from .._records import module_dict

#: Opcode numbers (CPython keeps them per version; ``co_code`` holds the unspecialised ones).
IMPORT_FROM: Final = dis.opmap["IMPORT_FROM"]
_LOAD_CONST: Final = dis.opmap["LOAD_CONST"]
_EXTENDED_ARG: Final = dis.opmap["EXTENDED_ARG"]
_ATTR_OPS: Final = frozenset(
    dis.opmap[name] for name in ("LOAD_ATTR", "LOAD_METHOD") if name in dis.opmap
)
_CALL_OPS: Final = frozenset(dis.opmap[name] for name in ("CALL", "CALL_KW") if name in dis.opmap)

#: How a frame read an attribute of a module (see :func:`access_kind`).
FROM: Final = "from"  # ``from m import x``
ATTR: Final = "attr"  # ``m.x`` / ``m.x()``
GETATTR: Final = "getattr"  # ``getattr(m, "x")`` without a default
PROBE: Final = "probe"  # ``hasattr(m, "x")`` / ``getattr(m, "x", default)``

_MAX_CACHE: Final = 4096
_call_kinds: dict[tuple[CodeType, int], str | None] = {}
_tables: dict[CodeType, dict[int, tuple[dis.Instruction, dis.Instruction | None]]] = {}
_definitions: dict[str, dict[str, int]] = {}

_CANNOT_IMPORT: Final = re.compile(r"^cannot import name (['\"])(?P<name>.+?)\1 from ")


def opcode_at(frame: FrameType) -> int:
    """The opcode the frame is executing (``f_lasti`` is a byte offset on 3.11+)."""
    code = frame.f_code.co_code
    lasti = frame.f_lasti
    return code[lasti] if 0 <= lasti < len(code) else -1


def access_kind(frame: FrameType) -> str | None:
    """Classify the attribute read the frame is doing: FROM, ATTR, GETATTR, PROBE or None.

    ``None`` means "not a read by this statement that we understand" (for example a
    library call that reads module attributes internally): never a violation.
    """
    op = opcode_at(frame)
    if op == IMPORT_FROM:
        return FROM
    if op in _ATTR_OPS:
        return ATTR
    if op in _CALL_OPS:
        return _call_kind(frame.f_code, frame.f_lasti)
    return None


def _call_kind(code: CodeType, lasti: int) -> str | None:
    key = (code, lasti)
    if key in _call_kinds:
        return _call_kinds[key]
    kind = None
    try:
        node = _call_node(code, lasti)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
        ):
            plain = node.func.id == "getattr" and len(node.args) == 2 and not node.keywords
            kind = GETATTR if plain else PROBE
    except Exception:  # unreadable source: not a violation we can prove
        kind = None
    if len(_call_kinds) < _MAX_CACHE:
        _call_kinds[key] = kind
    return kind


def _call_node(code: CodeType, lasti: int) -> ast.AST | None:
    """The expression of the call at ``lasti``, parsed from its source positions."""
    positions = list(code.co_positions())
    index = lasti // 2
    if index >= len(positions):
        return None
    line, end_line, col, end_col = positions[index]
    if line is None or end_line is None or col is None or end_col is None:
        return None
    lines = [
        linecache.getline(code.co_filename, number).encode("utf-8")
        for number in range(line, end_line + 1)
    ]
    if not lines or not lines[0]:
        return None
    if len(lines) == 1:
        segment = lines[0][col:end_col]
    else:
        segment = lines[0][col:] + b"".join(lines[1:-1]) + lines[-1][:end_col]
    tree = ast.parse(segment.decode("utf-8").strip(), mode="eval")
    return tree.body


def _instructions(code: CodeType) -> dict[int, tuple[dis.Instruction, dis.Instruction | None]]:
    """Each instruction of *code* by offset, with the instruction before it (cached)."""
    table = _tables.get(code)
    if table is None:
        table = {}
        previous = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "CACHE":
                continue
            table[instruction.offset] = (instruction, previous)
            previous = instruction
        if len(_tables) < _MAX_CACHE:
            _tables[code] = table
    return table


def _oparg(code: bytes, offset: int) -> int:
    """The argument of the instruction at *offset*, with its ``EXTENDED_ARG`` prefixes."""
    arg = code[offset + 1]
    shift = 8
    while offset >= 2 and code[offset - 2] == _EXTENDED_ARG:
        offset -= 2
        arg |= code[offset + 1] << shift
        shift += 8
    return arg


def import_fromlist(frame: FrameType) -> Any:
    """The ``fromlist`` constant of the ``IMPORT_NAME`` the frame is executing."""
    code = frame.f_code
    raw = code.co_code
    lasti = frame.f_lasti
    # Fast path (3.11-3.13): ``LOAD_CONST fromlist`` right before ``IMPORT_NAME`` (and
    # before the EXTENDED_ARG prefixes of IMPORT_NAME's own argument).
    start = lasti
    while start >= 2 and raw[start - 2] == _EXTENDED_ARG:
        start -= 2
    if start >= 2 and raw[start - 2] == _LOAD_CONST:
        return code.co_consts[_oparg(raw, start - 2)]
    entry = _instructions(code).get(lasti)
    if entry is None or entry[1] is None or entry[1].opname != "LOAD_CONST":
        return None
    return entry[1].argval


def followed_by_import_from(frame: FrameType) -> bool:
    """``import a.b as c``: the IMPORT_NAME is followed by IMPORT_FROM (which reports it)."""
    raw = frame.f_code.co_code
    offset = frame.f_lasti + 2
    while offset < len(raw) and raw[offset] == _EXTENDED_ARG:
        offset += 2
    return offset < len(raw) and raw[offset] == IMPORT_FROM


def import_from_name(frame: FrameType) -> str | None:
    """The name of the ``IMPORT_FROM`` the frame is executing."""
    code = frame.f_code
    raw = code.co_code
    lasti = frame.f_lasti
    if 0 <= lasti < len(raw) - 1 and raw[lasti] == IMPORT_FROM:
        index = _oparg(raw, lasti)
        if index < len(code.co_names):
            return code.co_names[index]
    entry = _instructions(code).get(lasti)
    if entry is None or not isinstance(entry[0].argval, str):
        return None
    return entry[0].argval


def missing_name(error: ImportError) -> str | None:
    """The ``X`` of a failed ``from M import X`` (``name_from`` on 3.12+, else the message)."""
    name = getattr(error, "name_from", None)
    if isinstance(name, str):
        return name
    match = _CANNOT_IMPORT.match(str(error.args[0]) if error.args else "")
    return match.group("name") if match else None


def innermost(error: BaseException) -> Any:
    """The last traceback entry of *error* (where it was raised)."""
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def strip_frames(error: BaseException, codes: frozenset[CodeType]) -> None:
    """Unlink the traceback entries of the guard's own frames (``codes``) from *error*."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code in codes:
        tb = tb.tb_next
    error.__traceback__ = tb
    while tb is not None:
        following = tb.tb_next
        while following is not None and following.tb_frame.f_code in codes:
            following = following.tb_next
        tb.tb_next = following
        tb = following


def definitions(filename: str) -> dict[str, int]:
    """Module-level names bound in *filename* and the first line binding each (cached)."""
    cached = _definitions.get(filename)
    if cached is not None:
        return cached
    found: dict[str, int] = {}
    try:
        with tokenize.open(filename) as stream:
            tree = ast.parse(stream.read(), filename)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        _definitions[filename] = found
        return found

    def bind(name: str, line: int) -> None:
        if name not in found or line < found[name]:
            found[name] = line

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bind(statement.name, statement.lineno)
                continue
            if isinstance(statement, ast.Import | ast.ImportFrom):
                for alias in statement.names:
                    name = alias.asname or alias.name.split(".")[0]
                    if name != "*":
                        bind(name, statement.lineno)
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bind(node.id, node.lineno)
            for child in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(statement, child, None)
                if isinstance(block, list):
                    visit([s for s in block if isinstance(s, ast.stmt)])
                    for handler in block:
                        if isinstance(handler, ast.ExceptHandler):
                            visit(handler.body)

    visit(tree.body)
    if len(_definitions) < _MAX_CACHE:
        _definitions[filename] = found
    return found


def suggest(
    module_name: str, name: str, modules: list[tuple[str, ModuleType]]
) -> tuple[str | None, str]:
    """Where *name* lives now: (dotted suggestion, how it was found).

    A loaded first-party module (from *modules*) that defines *name* (classes and
    functions whose ``__module__`` is that module first), else a close match in
    *module_name* itself. How: ``"moved"``, ``"close-match"`` or ``"none"``.
    """
    defining: list[tuple[int, str]] = []
    for other, module in modules:
        if other == module_name:
            continue
        namespace = module_dict(module)
        if name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, ModuleType):
            continue
        owner = value.__module__ if isinstance(value, type | FunctionType) else None
        rank = 0 if owner == other else 1
        defining.append((rank, other))
    if defining:
        defining.sort()
        return f"{defining[0][1]}.{name}", "moved"
    source = sys.modules.get(module_name)
    if source is not None:
        import difflib  # an error path: not imported at start-up

        names = [key for key in module_dict(source) if not key.startswith("_")]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.7)
        if close:
            return f"{module_name}.{close[0]}", "close-match"
    return None, "none"
