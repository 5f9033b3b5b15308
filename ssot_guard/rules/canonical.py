"""Canonical-class rules: SSOT004, SSOT005 and SSOT007."""

from __future__ import annotations

from .._participant import Participant


class CanonicalClasses(Participant):
    """Not implemented yet: a no-op participant."""

    feature = "canonical-classes"
