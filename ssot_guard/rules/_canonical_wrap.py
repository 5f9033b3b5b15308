"""The wrappers put on non-canonical and singleton classes, and their exact removal.

Which method is wrapped, and why:

* A class whose ``__new__`` comes from Python code somewhere along its MRO gets a
  ``__new__`` wrapper (a ``staticmethod``), which runs before that ``__new__``.
* Any other class gets an ``__init__`` wrapper: ``object.__new__`` only allocates, so the
  check still runs before any code of the class. ``__new__`` is never added to such a class
  because CPython cannot take it back: after ``del cls.__new__`` the type keeps its
  ``slot_tp_new`` and every call with arguments fails in ``object.__new__`` ("takes exactly
  one argument"; ``update_one_slot``'s ``tp_new_wrapper`` special case).
* The wrapper is installed right after the class statement (``manager = DatabaseManager()``
  on the next line must be seen), i.e. before class decorators run. ``@dataclass`` only
  generates ``__init__`` when ``'__init__' not in cls.__dict__``: from the first ``__init__``
  wrapper until uninstall, ``dataclasses._set_new_attribute`` is wrapped so that a generated
  ``__init__`` becomes the class's own ``__init__`` *under* the wrapper
  (:func:`patch_dataclasses`).

Transparency: the wrapper continues with exactly what the class would have run (its own
method, else the next one along the MRO of the instantiated class), reproduces CPython's
"X() takes no arguments", binds like a function, and answers ``inspect.signature`` lazily
with the signature the class has without it.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable
from typing import Any, Final

from .._frames import transparent

#: ``super`` untyped: mypy only accepts a literal class as its first argument.
_super: Any = super
_OBJECT_NEW: Any = object.__new__
_OBJECT_INIT: Any = object.__init__
#: Callables ``inspect`` does not treat as user-defined (``inspect._NonUserDefinedCallables``).
_NOT_USER_DEFINED: Final = (
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
    types.BuiltinFunctionType,
)

#: ``check(cls, owner)`` before anything of the class runs (SSOT004); returns the error to
#: raise in strict mode (raised by the wrapper itself: one guard frame in the traceback).
Check = Callable[[type, type], BaseException | None]
#: ``created(cls, owner, instance)`` once the instance exists, before ``__init__`` (SSOT007).
Created = Callable[[type, type, object], BaseException | None]


class _Absent:
    """Marks a class that had no method of its own under the wrapper."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()


def _bind(own: object, owner: type) -> Callable[..., Any] | None:
    if own is ABSENT:
        return None
    getter = getattr(type(own), "__get__", None)
    if getter is None:
        return own  # type: ignore[return-value]
    return getter(own, None, owner)  # type: ignore[no-any-return]


class Wrapper:
    """State of one wrapper; the method put on the class is a closure over it.

    A real function (not a callable object) is installed because CPython calls functions
    found as ``__new__``/``__init__`` without creating a bound method. The function's
    ``__wrapped__`` is this object, whose lazy ``__signature__`` stops ``inspect.unwrap``.
    """

    __slots__ = ("__weakref__", "check", "created", "function", "own", "own_call", "owner")
    slot: str = ""

    def __init__(self, owner: type, own: object, check: Check | None, created: Created | None):
        self.owner = owner
        self.check = check
        self.created = created
        self.own: object = ABSENT
        self.own_call: Callable[..., Any] | None = None
        self.set_own(own)
        self.function = self._make()
        self.function.__wrapped__ = self  # type: ignore[attr-defined]
        self.function.__qualname__ = f"{owner.__qualname__}.{self.slot}"
        self.function.__module__ = owner.__module__
        self.function.__doc__ = getattr(own, "__doc__", None) if own is not ABSENT else None

    def _make(self) -> types.FunctionType:
        raise NotImplementedError

    def set_own(self, own: object) -> None:
        """What the class itself defines under the wrapper (a decorator may add it)."""
        self.own = own
        self.own_call = _bind(own, self.owner)

    def disable(self) -> None:
        self.check = None
        self.created = None

    @property
    def __signature__(self) -> inspect.Signature:
        return original_signature(self.owner, self.slot, self.own_call)

    @property
    def __wrapped__(self) -> Any:
        if self.own_call is not None:
            return self.own_call
        return getattr(_super(self.owner, self.owner), self.slot)

    @property
    def __name__(self) -> str:
        return self.slot

    def __repr__(self) -> str:
        return f"<ssot_guard wrapper of {self.owner.__qualname__}.{self.slot}>"


def _anchor(owner: type, cls: type) -> type:
    """The class after which to continue along ``cls.__mro__``.

    A copy of the class (``@dataclass(slots=True)``, attrs) carries the wrapper in its own
    ``__dict__`` without having ``owner`` as a base: continue after the copy itself.
    """
    if cls is owner or owner in cls.__mro__:
        return owner
    return cls


class NewWrapper(Wrapper):
    """Installed as ``staticmethod(function)`` in ``owner.__dict__['__new__']``."""

    __slots__ = ()
    slot = "__new__"

    def _make(self) -> types.FunctionType:
        state = self

        def __new__(cls: type, /, *args: Any, **kwargs: Any) -> Any:
            owner = state.owner
            check = state.check
            if check is not None:
                error = check(cls, owner)
                if error is not None:
                    raise error
            own = state.own_call
            if own is not None:
                instance = own(cls, *args, **kwargs)
            else:
                instance = _super(_anchor(owner, cls), cls).__new__(cls, *args, **kwargs)
            created = state.created
            if created is not None:
                error = created(cls, owner, instance)
                if error is not None:
                    raise error
            return instance

        return transparent(__new__, "canonical class wrapper")  # type: ignore[return-value]


class InitWrapper(Wrapper):
    """Installed as the function ``owner.__dict__['__init__']``."""

    __slots__ = ()
    slot = "__init__"

    def _make(self) -> types.FunctionType:
        state = self

        def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
            cls = type(self)
            owner = state.owner
            check = state.check
            if check is not None:
                error = check(cls, owner)
                if error is not None:
                    raise error
            created = state.created
            if created is not None:
                error = created(cls, owner, self)
                if error is not None:
                    raise error
            own = state.own_call
            if own is not None:
                own(self, *args, **kwargs)
                return
            following = _super(_anchor(owner, cls), cls).__init__
            if following is _OBJECT_INIT:
                if (args or kwargs) and type.__getattribute__(cls, "__new__") is _OBJECT_NEW:
                    # What object.__new__ says when neither __new__ nor __init__ is defined.
                    raise TypeError(f"{cls.__name__}() takes no arguments")
                return
            following(self, *args, **kwargs)

        return transparent(__init__, "canonical class wrapper")  # type: ignore[return-value]


def _user_defined(value: object) -> object | None:
    if value is None or isinstance(value, _NOT_USER_DEFINED):
        return None
    return value


def original_signature(owner: type, slot: str, own: Callable[..., Any] | None) -> inspect.Signature:
    """What ``inspect`` reports for ``owner``'s factory method without the wrapper.

    Mirrors ``inspect._signature_from_callable`` for classes (3.11-3.13): the first class
    along the MRO that defines a user-defined ``__new__`` or ``__init__`` wins, ignoring the
    wrapper's own entry. The result keeps the leading ``cls``/``self`` parameter, which
    ``inspect`` then drops.
    """
    if own is not None and slot == "__new__":
        return inspect.signature(own)
    if slot == "__new__":
        new = _user_defined(_super(owner, owner).__new__)
        init = _user_defined(getattr(owner, "__init__", None))
    else:
        new = _user_defined(getattr(owner, "__new__", None))
        init = own if own is not None else _user_defined(_super(owner, owner).__init__)
    factory: object | None = None
    for base in owner.__mro__:
        has_new = "__new__" in base.__dict__ and not (base is owner and slot == "__new__")
        has_init = "__init__" in base.__dict__ and not (
            base is owner and slot == "__init__" and own is None
        )
        if new is not None and has_new:
            factory = new
            break
        if init is not None and has_init:
            factory = init
            break
    if factory is not None:
        return inspect.signature(factory)  # type: ignore[arg-type]
    if type.__getattribute__(owner, "__init__") is _OBJECT_INIT or slot == "__init__":
        return inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)])
    raise ValueError(f"no signature found for builtin type {owner!r}")


class WrapRecord:
    """What :func:`install_wrapper` changed, to undo it exactly."""

    __slots__ = ("cls", "descriptor", "wrapper")

    def __init__(self, cls: type, wrapper: Wrapper, descriptor: object) -> None:
        self.cls = cls
        self.wrapper = wrapper
        self.descriptor = descriptor

    def restore(self) -> int:
        """Restore ``cls`` and any copy of it; returns how many classes were restored."""
        wrapper = self.wrapper
        wrapper.disable()
        slot = wrapper.slot
        targets: list[type] = [self.cls]
        seen = {id(self.cls)}
        # Copies made by decorators share the bases of the original class.
        for base in self.cls.__bases__:
            try:
                siblings: list[type] = type.__subclasses__(base)
            except TypeError:  # pragma: no cover
                continue
            for sibling in siblings:
                if id(sibling) not in seen:
                    seen.add(id(sibling))
                    targets.append(sibling)
        restored = 0
        for target in targets:
            try:
                current = type.__getattribute__(target, "__dict__").get(slot)
            except Exception:  # pragma: no cover - exotic metaclass
                continue
            if current is not self.descriptor:
                continue
            if wrapper.own is ABSENT:
                type.__delattr__(target, slot)
            else:
                type.__setattr__(target, slot, wrapper.own)
            restored += 1
        return restored


def _state(function: object) -> Wrapper | None:
    state = getattr(function, "__wrapped__", None) if type(function) is types.FunctionType else None
    return state if isinstance(state, Wrapper) and state.function is function else None


def wrapper_in(cls: type) -> Wrapper | None:
    """The guard's wrapper in ``cls.__dict__`` (on the class itself or copied into it)."""
    namespace = type.__getattribute__(cls, "__dict__")
    new = namespace.get("__new__")
    if isinstance(new, staticmethod):
        state = _state(new.__func__)
        if state is not None:
            return state
    return _state(namespace.get("__init__"))


def install_wrapper(cls: type, check: Check | None, created: Created | None) -> WrapRecord:
    """Wrap ``cls`` (see the module docstring); ``TypeError`` for immutable types.

    ``type.__setattr__`` is used directly so that a metaclass ``__setattr__`` (enum) is
    not involved.
    """
    namespace = type.__getattribute__(cls, "__dict__")
    wrapper: Wrapper
    if type.__getattribute__(cls, "__new__") is _OBJECT_NEW:
        # A class decorator runs after the wrapper went in: let @dataclass put its __init__
        # under it. Patched from the first such wrapper on, not at install: every
        # dataclass of the program pays the patched call.
        patch_dataclasses()
        wrapper = InitWrapper(cls, namespace.get("__init__", ABSENT), check, created)
        descriptor: object = wrapper.function
    else:
        wrapper = NewWrapper(cls, namespace.get("__new__", ABSENT), check, created)
        descriptor = staticmethod(wrapper.function)
    type.__setattr__(cls, wrapper.slot, descriptor)
    return WrapRecord(cls, wrapper, descriptor)


# ---------------------------------------------------------------------- dataclasses

_DATACLASS_ORIGINAL: Any = None


def _set_new_attribute(cls: type, name: str, value: Any) -> bool:
    """``dataclasses._set_new_attribute`` that sees through the guard's ``__init__``."""
    if name == "__init__":
        state = _state(type.__getattribute__(cls, "__dict__").get("__init__"))
        if isinstance(state, InitWrapper) and state.own is ABSENT:
            if isinstance(value, types.FunctionType):
                value.__qualname__ = f"{cls.__qualname__}.{value.__name__}"
            state.set_own(value)
            return False
    return _DATACLASS_ORIGINAL(cls, name, value)  # type: ignore[no-any-return]


def patch_dataclasses() -> None:
    """Let ``@dataclass`` generate ``__init__`` under an ``InitWrapper`` (idempotent)."""
    global _DATACLASS_ORIGINAL
    current = getattr(dataclasses, "_set_new_attribute", None)
    if current is None or current is _set_new_attribute:
        return
    _DATACLASS_ORIGINAL = current
    dataclasses._set_new_attribute = _set_new_attribute  # type: ignore[attr-defined]


def unpatch_dataclasses() -> None:
    global _DATACLASS_ORIGINAL
    if getattr(dataclasses, "_set_new_attribute", None) is _set_new_attribute:
        dataclasses._set_new_attribute = _DATACLASS_ORIGINAL  # type: ignore[attr-defined]
    _DATACLASS_ORIGINAL = None
