"""Rule families: each one is a :class:`~ssot_guard._participant.Participant` of the guard."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._guard import Guard
    from .._participant import Participant


def participants_for(guard: Guard) -> list[Participant]:
    """The participants of every rule family, in the order the hook calls them."""
    from .canonical import CanonicalClasses
    from .imports import ImportRules
    from .shims import CompatShims

    return [ImportRules(guard), CanonicalClasses(guard), CompatShims(guard)]
