"""Compat shims for removed and moved names: SSOT006 compat-shim-used."""

from __future__ import annotations

from .._participant import Participant


class CompatShims(Participant):
    """Not implemented yet: a no-op participant."""

    feature = "compat-shims"
