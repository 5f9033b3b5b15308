"""Exception and warning types raised or emitted by the guard.

The hierarchy follows SPEC §2: every exception derives from :class:`SSOTGuardError`
and also from the built-in type that the violated statement would raise anyway, so
existing ``except ImportError`` / ``except AttributeError`` clauses keep their meaning.
"""

from __future__ import annotations

from typing import Any, NoReturn


class SSOTGuardError(Exception):
    """Base class of every exception the guard raises."""


class ConfigError(SSOTGuardError, ValueError):
    """Invalid configuration: names the source, the key and what was expected."""


class GuardImportError(SSOTGuardError, ImportError):
    """A violation at ``error`` severity in an ``from m import x`` statement."""


class GuardAttributeError(SSOTGuardError, AttributeError):
    """A violation at ``error`` severity in an attribute read (``m.x``, ``getattr``)."""


class GuardTypeError(SSOTGuardError, TypeError):
    """A class rule at ``error`` severity (non-canonical instance, second singleton)."""


class ViolationsError(SSOTGuardError):
    """Raised at the end of a run that recorded violations at ``error`` severity."""


class SSOTGuardWarning(Warning):
    """Base class of every warning the guard emits."""


class ImportRuleWarning(SSOTGuardWarning, RuntimeWarning):
    """Import cycles, partial modules, double and missing imports (SSOT001-003, 008, 009)."""


class ClassRuleWarning(SSOTGuardWarning, DeprecationWarning):
    """Canonical-class rules (SSOT004, SSOT005, SSOT007)."""


class CompatShimWarning(SSOTGuardWarning, DeprecationWarning):
    """A removed or moved name was used through a compat shim (SSOT006)."""


# Immutability of the guard's value classes (``Rule``, ``ChainLink``, ``Settings``...): they
# are written out with ``__slots__`` instead of ``@dataclass(frozen=True, slots=True)``, whose
# class creation costs 0.3-0.8 ms each at import (SPEC §7). Same error as a frozen dataclass.
set_field = object.__setattr__


def frozen_setattr(self: object, name: str, value: object) -> NoReturn:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def frozen_delattr(self: object, name: str) -> NoReturn:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot delete field {name!r}")


class FieldValue:
    """Base of the guard's value classes (written out rather than ``@dataclass``, which
    costs milliseconds at import): ``__match_args__`` lists the fields in order; equality
    and the repr follow them. Mutable, so unhashable."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _astuple(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({values})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._astuple() == other._astuple()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class FrozenValue(FieldValue):
    """An immutable :class:`FieldValue`: hashing and pickling by its fields, assignment
    refused like a frozen dataclass."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]  # immutable: hashable again
        return hash(self._astuple())

    __setattr__ = frozen_setattr
    __delattr__ = frozen_delattr

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._astuple())
