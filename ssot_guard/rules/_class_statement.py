"""Run a class statement from the guard's ``__build_class__`` hook as if from its own frame.

While canonical names are declared, every class statement calls the guard's hook, a Python
function. Without care, its frame would sit between the statement and everything the class
statement runs: the class body, ``__prepare__``, the metaclass and ``__init_subclass__``.
Code there that looks at the frame defining the class would see the hook's frame instead:
pydantic reads that frame's locals to resolve forward references to classes defined in the
same function (``sys._getframe(2)`` in ``ModelMetaclass.__new__``) and treats a ``<module>``
frame as module level; registries read ``f_globals["__name__"]`` of ``__init_subclass__``'s
caller. So for a statement with bases or keywords (the only ones that bring a metaclass,
``__init_subclass__`` or ``__mro_entries__`` of Python code) the hook runs
``__build_class__`` from a one-line code object executed with the statement's own globals
and locals and named like the statement's code (``exec`` of a code object whose constants
are C methods of a per-thread call stack and result deque: no name is looked up, so nothing
is added to either namespace). What still differs: ``f_back``, ``f_lineno`` and the file name
of that frame (hidden from ``warnings``, see :func:`_frames.transparent`). A statement
without bases calls ``__build_class__`` directly (about 1 µs less): under it run only the
class body and ``__set_name__`` of its descriptors, which do not look at that frame.
"""

from __future__ import annotations

import warnings
from _thread import get_ident
from collections import deque
from types import CodeType
from typing import Any, Final

from .._frames import transparent_filename

_SINK: Final = "\x00ssot_guard sink"
_NEXT: Final = "\x00ssot_guard next"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "'str' object is not callable": replaced below
    _TEMPLATE: Final[CodeType] = compile(
        f"{_SINK!r}({_NEXT!r}()())", transparent_filename("class statement"), "exec"
    )
_CONSTS: Final = _TEMPLATE.co_consts
_SINK_AT: Final = _CONSTS.index(_SINK)
_NEXT_AT: Final = _CONSTS.index(_NEXT)


class ThreadStatements:
    """One thread's pending class-statement calls, their results, and the code objects that
    run them (``results.append(calls.pop()())``), one per code name.

    The code is built once per name and thread and takes the call from a stack: a class
    statement inside a class body pushes and pops its own call above the outer one's.
    Deques, not lists: a list shrinking back to empty reallocates on every statement.
    """

    __slots__ = ("calls", "codes", "results")

    def __init__(self) -> None:
        self.calls: deque[Any] = deque()
        self.results: deque[Any] = deque()
        self.codes: dict[str, CodeType] = {}

    def build(self, code_name: str) -> CodeType:
        """Make and keep in :attr:`codes` the code to exec with the statement's globals and
        locals, named *code_name* (the hook looks in :attr:`codes` first)."""
        consts = list(_CONSTS)
        consts[_SINK_AT] = self.results.append
        consts[_NEXT_AT] = self.calls.pop
        code = self.codes[code_name] = _TEMPLATE.replace(co_name=code_name, co_consts=tuple(consts))
        return code


class Statements(dict[int, ThreadStatements]):
    """:class:`ThreadStatements` by thread id (a dict lookup: ``threading.local`` attribute
    reads cost more, once per class statement)."""

    def new(self) -> ThreadStatements:
        state = self[get_ident()] = ThreadStatements()
        return state


def is_statement_code(code: CodeType) -> bool:
    """Whether *code* is one made by :meth:`ThreadStatements.build` (cut from tracebacks)."""
    return code.co_filename == _TEMPLATE.co_filename
