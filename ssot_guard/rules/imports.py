"""Import rules: SSOT001, SSOT002, SSOT003, SSOT008 and SSOT009."""

from __future__ import annotations

from .._participant import Participant


class ImportRules(Participant):
    """Not implemented yet: a no-op participant."""

    feature = "import-rules"
