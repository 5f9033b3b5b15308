"""Building blocks of the compat shims: the module ``__getattr__``, the handed-out object.

Two details keep a shimmed module behaving exactly as before for every other name:

* The PEP 562 ``__getattr__`` installed on the module is a Python function, so it adds a
  frame between the user's attribute read and a ``__getattr__`` the module defined itself.
  ``warnings.warn(..., stacklevel=2)`` in that original would then point into the guard,
  so the dispatcher is hidden from warnings' stack levels (:func:`_frames.transparent`):
  the original's warnings still land on the user's line.
* Without an original ``__getattr__``, a miss must raise the ``AttributeError`` CPython
  would have raised (``module_getattro`` in ``Objects/moduleobject.c``), including the
  "partially initialized module" and "cannot access submodule" variants.
"""

from __future__ import annotations

import dis
import sys
from collections.abc import Callable, Mapping
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Final

import wrapt

from .._errors import SSOTGuardError
from .._frames import transparent
from .._records import missing_attribute

if TYPE_CHECKING:
    from .shims import Shim


#: Sentinel: the module had no ``__getattr__`` of its own.
MISSING: Final[Any] = object()

_IMPORT_FROM: Final[int] = dis.opmap["IMPORT_FROM"]


def is_bootstrap(filename: str) -> bool:
    """Same test as CPython's ``warnings._is_internal_frame``."""
    return "importlib" in filename and "_bootstrap" in filename


def is_fromlist_probe(frame: FrameType) -> bool:
    """True when ``importlib._bootstrap._handle_fromlist`` probes with ``hasattr``.

    ``from package import name`` first calls ``hasattr(package, name)`` there and, if
    that fails, tries to import ``package.name`` as a submodule; only then does the
    user's ``IMPORT_FROM`` read the attribute.
    """
    code = frame.f_code
    return code.co_name == "_handle_fromlist" and is_bootstrap(code.co_filename)


def is_import_from(frame: FrameType) -> bool:
    """True when *frame* is executing ``from m import name`` (the ``IMPORT_FROM`` opcode)."""
    try:
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (IndexError, ValueError):
        return False


UseFn = Callable[["Shim", FrameType], Any]
ModuleRef = Callable[[], "ModuleType | None"]


def make_getattr(
    table: Mapping[str, Shim], use: UseFn, module_ref: ModuleRef, original: Any
) -> Callable[[str], Any]:
    """The PEP 562 ``__getattr__`` of a shimmed module.

    Shimmed names go to *use* with the reading frame; every other name goes to the
    module's own ``__getattr__`` (*original*) or raises CPython's own error.
    """
    if original is MISSING:

        def __getattr__(name: str) -> Any:
            shim = table.get(name)
            if shim is not None:
                try:
                    return use(shim, sys._getframe(1))
                except SSOTGuardError as error:
                    # The user's traceback ends here, not deep inside the guard.
                    raise error.with_traceback(None)  # noqa: B904
            raise missing_attribute(module_ref(), name)

    else:

        def __getattr__(name: str) -> Any:
            shim = table.get(name)
            if shim is not None:
                try:
                    return use(shim, sys._getframe(1))
                except SSOTGuardError as error:
                    raise error.with_traceback(None)  # noqa: B904
            return original(name)

    transparent(__getattr__, "compat shim")
    __getattr__.__qualname__ = "__getattr__"
    __getattr__.__module__ = "ssot_guard.rules.shims"
    return __getattr__


#: wrapt 2.x calls the plain proxy ``BaseObjectProxy``; 1.x only has ``ObjectProxy``.
_ProxyBase: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


class DeprecatedAlias(_ProxyBase):  # type: ignore[misc]
    """The object handed out for a shimmed callable or class.

    A transparent proxy (``__wrapped__`` is the replacement; ``isinstance``, subclassing,
    ``inspect.signature`` and method binding work through it) that carries PEP 702's
    ``__deprecated__`` without mutating the replacement, which other code shares.
    ``__call__`` is the proxy's only Python frame and is invisible to ``warnings``, so a
    replacement's own ``warnings.warn(..., stacklevel=2)`` still names the caller (also
    under ``WRAPT_DISABLE_EXTENSIONS=1``, where a ``FunctionWrapper`` adds wrapt frames).
    """

    def __init__(self, wrapped: Any, message: str) -> None:
        super().__init__(wrapped)
        self._self_deprecated = message

    @property
    def __deprecated__(self) -> str:
        message: str = self._self_deprecated
        return message

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    # wrapt 1.x proxies do not forward these (2.2+ does): ``isinstance(x, OldClass)``.
    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self.__wrapped__)

    def __subclasscheck__(self, subclass: Any) -> bool:
        return issubclass(subclass, self.__wrapped__)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # Bind like the replacement would (a function stored on a class becomes a
        # method); classes and builtins are no descriptors and stay as they are.
        wrapped = self.__wrapped__
        get = getattr(type(wrapped), "__get__", None)
        if get is None:
            return self
        return DeprecatedAlias(get(wrapped, instance, owner), self._self_deprecated)


transparent(DeprecatedAlias.__call__, "compat shim")


def hand_out(replacement: Any, message: str) -> Any:
    """What reading the old name returns: modules and plain values as they are.

    Modules cannot carry PEP 702 metadata without changing them for everyone (and
    ``type(module)`` checks would break under a proxy); plain values (numbers, strings,
    containers) would change type under a proxy. Callables and classes get a
    :class:`DeprecatedAlias`.
    """
    if isinstance(replacement, ModuleType):
        return replacement
    if callable(replacement):
        return DeprecatedAlias(replacement, message)
    return replacement
