"""Attribution: the first stack frame that belongs to user code (SPEC §3.2).

Frames of ``ssot_guard`` itself, of ``wrapt`` and of ``importlib`` (frozen bootstrap and the
package) are skipped, so a location names the user's statement even under wrappers.
"""

from __future__ import annotations

import dis
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Final, NamedTuple, TypeVar


def _package_dir(name: str) -> str:
    """The folder of package *name*, found without importing it (the kill switch never
    imports wrapt), or a NUL character: a prefix no file name has."""
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    return os.path.dirname(os.path.abspath(origin)) + os.sep if origin else "\0"


_F = TypeVar("_F", bound=Callable[..., Any])

_OWN_DIR: Final = os.path.dirname(os.path.abspath(__file__)) + os.sep
_WRAPT_DIR: Final = _package_dir("wrapt")
_IMPORTLIB_DIR: Final = os.path.dirname(os.path.abspath(importlib.__file__ or "")) + os.sep
_FROZEN: Final = frozenset({"<frozen zipimport>", "<frozen runpy>"})
#: Frozen importlib modules (``_bootstrap``, ``_bootstrap_external``, ``util`` on 3.11+).
_FROZEN_PREFIX: Final = "<frozen importlib"
_RUNPY_FILE: Final = os.path.join(os.path.dirname(os.__file__), "runpy.py")
_SKIP_PREFIXES: Final = (_OWN_DIR, _WRAPT_DIR, _IMPORTLIB_DIR)
_OWN_DEMO_DIR: Final = _OWN_DIR + "_demo" + os.sep
_OWN_PSEUDO_PREFIX: Final = "<ssot_guard"
_SCRIPT_NAME: Final = "ssot-guard"
#: The opcode of an import statement: the frame running one is the importing statement.
IMPORT_NAME: Final = dis.opmap["IMPORT_NAME"]
#: importlib's ``_call_with_frames_removed``: the frame between ``_handle_fromlist`` and the
#: ``__import__`` of each submodule that a ``from package import submodule`` loads.
CALL_REMOVED: Final = sys.modules["_frozen_importlib"]._call_with_frames_removed.__code__


def transparent(function: _F, role: str) -> _F:
    """Hide *function*'s frames from ``warnings`` stack levels; returns *function*.

    The guard's Python frames sit between user code and code it calls back into: the loader
    proxy under every module body, a canonical class's wrapper under its ``__init__``, the
    ``__build_class__`` hook under ``__init_subclass__`` and metaclasses, the compat shims.
    ``warnings.warn(..., stacklevel=2)`` there must still name the user's line (and the
    user's module, which warning filters match). CPython's warnings skip frames whose file
    name contains ``importlib`` and ``_bootstrap`` when counting levels (``_is_internal_frame``
    in ``_warnings.c`` and ``warnings.py``, the rule that hides the import system itself), so
    the code gets such a name; :func:`is_internal` knows it by its ``<ssot_guard`` prefix.
    """
    target: Any = function
    target.__code__ = target.__code__.replace(co_filename=transparent_filename(role))
    return function


def transparent_filename(role: str) -> str:
    return f"{_OWN_PSEUDO_PREFIX} {role} (importlib._bootstrap-transparent)>"


class Location(NamedTuple):
    """Where user code did something: absolute file name, line and module name."""

    filename: str
    lineno: int
    module: str | None


def is_internal(filename: str) -> bool:
    """True for frames of the guard, wrapt, importlib and runpy (the bundled demo is user code).

    Code the guard compiles itself (the compat-shim dispatcher) is named ``<ssot_guard ...>``;
    the ``ssot-guard`` console script is a two-line launcher, not the user's program.
    """
    if filename in _FROZEN or filename.startswith(_FROZEN_PREFIX) or filename == _RUNPY_FILE:
        return True
    if filename.startswith(_OWN_PSEUDO_PREFIX) or os.path.basename(filename) == _SCRIPT_NAME:
        return True
    if filename.startswith(_OWN_DEMO_DIR):
        return False
    return filename.startswith(_SKIP_PREFIXES)


#: ``is_internal`` per file name: the walk runs once per import and per event.
INTERNAL: dict[str, bool] = {}
_INTERNAL_MAX: Final = 20_000


def internal(filename: str) -> bool:
    """:func:`is_internal`, cached per file name (for the per-read and per-import paths)."""
    known = INTERNAL.get(filename)
    if known is None:
        if len(INTERNAL) >= _INTERNAL_MAX:
            INTERNAL.clear()
        known = INTERNAL[filename] = is_internal(filename)
    return known


def user_frame(start: FrameType | None = None) -> FrameType | None:
    """The first frame, walking outwards from *start*, that is user code."""
    frame: FrameType | None = start if start is not None else sys._getframe(1)
    cache = INTERNAL
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = cache.get(filename)
        if internal is None:
            if len(cache) >= _INTERNAL_MAX:
                cache.clear()
            internal = cache[filename] = is_internal(filename)
        if not internal:
            return frame
        frame = frame.f_back
    return None


def user_location(start: FrameType | None = None) -> Location | None:
    frame = user_frame(start if start is not None else sys._getframe(1))
    if frame is None:
        return None
    return Location(frame.f_code.co_filename, frame.f_lineno, frame.f_globals.get("__name__"))


def display_path(filename: str, root: str) -> str:
    """*filename* relative to the project *root* when it lies below it, else unchanged."""
    if root and filename.startswith(root.rstrip(os.sep) + os.sep):
        return filename[len(root.rstrip(os.sep)) + 1 :]
    return filename


def format_location(location: Location | None, root: str) -> str | None:
    if location is None:
        return None
    return f"{display_path(location.filename, root)}:{location.lineno}"
