"""The interface between the import hook and the rule families that plug into it.

One finder serves every feature (NOTES P2): rule families are participants that the guard
calls at fixed points. Each call is wrapped by the guard: an exception inside a participant
becomes one ``ssot_guard.internal_error`` event and disables that participant, never the
user's import.
"""

from __future__ import annotations

from collections.abc import Container
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ._guard import Guard
    from ._records import ExecFrame


class Participant:
    """Base class with no-op hooks; subclasses override what they need."""

    #: Feature name used in internal-error events and for disabling.
    feature: ClassVar[str] = "participant"
    #: Set when the participant is disabled after an internal error.
    enabled: bool = True
    #: The module names :meth:`find_spec` can answer for (a live container), or ``None``
    #: for any: the finder asks only for these, a membership test per import.
    spec_names: Container[str] | None = None

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def uses(self, hook: str) -> bool:
        """Whether *hook* (``find_spec``, ``before_exec``, ``after_exec``) has work to do now.

        The guard calls only hooks in use on every import; a participant whose answer
        changes (a canonical class declared at run time) calls ``guard._refresh_hooks()``.
        """
        return True

    def install(self) -> None:
        """Called once when the guard is installed (after the finder is in place)."""

    def uninstall(self) -> None:
        """Undo everything :meth:`install` and the hooks changed."""

    def find_spec(
        self, fullname: str, path: object, target: ModuleType | None
    ) -> ModuleSpec | None:
        """Serve a spec before the real finders are asked (compat module aliases).

        Runs under the global import lock: dictionary lookups only, no imports, no I/O.
        """
        return None

    def before_exec(self, frame: ExecFrame, module: ModuleType) -> None:
        """The module body is about to run (``frame`` is already on the thread's stack)."""

    def after_exec(self, frame: ExecFrame, module: ModuleType, error: BaseException | None) -> None:
        """The module body finished (``frame`` is still on the stack)."""

    def after_fork(self) -> None:
        """Reset per-process state in a forked child."""
