"""``@ssot_guard.canonical``: declare the canonical class in code (SPEC §4).

Declarations go into a module-level registry that the canonical-classes participant reads
at ``install()``, so the decorator works whether the guard is installed before or after the
decorated module is imported; when a guard is active it is told at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Final, TypeVar, overload

from .._config import CanonicalSpec, is_dotted
from .._errors import ConfigError

T = TypeVar("T", bound=type)

_LOCK: Final = threading.Lock()
#: path -> (merged spec, the decorated class). Read by ``CanonicalClasses.install``.
DECLARED: dict[str, tuple[CanonicalSpec, type]] = {}


def merge(first: CanonicalSpec, second: CanonicalSpec) -> CanonicalSpec:
    """One spec for a path declared twice (config and decorator): union of options."""
    allow = tuple(dict.fromkeys((*first.allow, *second.allow)))
    return CanonicalSpec(first.path, allow, first.singleton or second.singleton)


def _declare(cls: T, singleton: bool, allow: Iterable[str]) -> T:
    if not isinstance(cls, type):
        raise TypeError(f"@ssot_guard.canonical decorates classes, not {type(cls).__name__}")
    path = f"{cls.__module__}.{cls.__qualname__}"
    where = f"@ssot_guard.canonical on {path!r}"
    if not is_dotted(path):
        raise ConfigError(
            f"{where}: expected a class defined at module level (a dotted path such as "
            f"'app.db.manager.DatabaseManager')"
        )
    if isinstance(allow, str):
        raise ConfigError(f"{where}: key 'allow': expected a list of module names, got str")
    modules = tuple(allow)
    for index, module in enumerate(modules):
        if not isinstance(module, str) or not is_dotted(module):
            raise ConfigError(
                f"{where}: key 'allow[{index}]': expected a module name, got {module!r}"
            )
    if not isinstance(singleton, bool):
        raise ConfigError(f"{where}: key 'singleton': expected True or False")
    spec = CanonicalSpec(path=path, allow=modules, singleton=singleton)
    with _LOCK:
        known = DECLARED.get(path)
        if known is not None and known[1] is not cls:
            known = None  # a reload: the new class object is the canonical one now
        if known is not None:
            spec = merge(known[0], spec)
        DECLARED[path] = (spec, cls)
    from .._guard import active

    guard = active()
    if guard is not None:
        participant = guard.participant("canonical-classes")
        declare = getattr(participant, "declare", None)
        if participant is not None and participant.enabled and callable(declare):
            try:
                declare(spec, cls)
            except Exception as error:  # never break the decorated module's import
                guard.internal_error(participant.feature, error)
    return cls


@overload
def canonical(cls: T, /) -> T: ...


@overload
def canonical(*, singleton: bool = False, allow: Iterable[str] = ()) -> Callable[[T], T]: ...


def canonical(
    cls: T | None = None, /, *, singleton: bool = False, allow: Iterable[str] = ()
) -> T | Callable[[T], T]:
    """Declare the decorated class the canonical one for its name.

    ``@canonical`` or ``@canonical(singleton=True, allow=["auth_service.db"])``. The class
    is returned unchanged; a guard (installed now or later) reports other classes with the
    same ``__name__`` (SSOT004, SSOT005) and, for singletons, a second instance (SSOT007).
    """
    if cls is not None:
        return _declare(cls, singleton, allow)

    def decorate(klass: T) -> T:
        return _declare(klass, singleton, allow)

    return decorate
