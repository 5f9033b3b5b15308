"""The rule table: stable codes, names, event names and warning categories (SPEC §1)."""

from __future__ import annotations

from typing import Final

from ._errors import (
    ClassRuleWarning,
    CompatShimWarning,
    FrozenValue,
    ImportRuleWarning,
    SSOTGuardWarning,
)
from ._errors import set_field as _set

SEVERITIES: Final = ("off", "log", "warn", "error")
SEVERITY_RANK: Final = {name: rank for rank, name in enumerate(SEVERITIES)}


class Rule(FrozenValue):
    """One rule: immutable, compared and hashed by its fields.

    Written out rather than ``@dataclass(frozen=True, slots=True)``: creating such a class
    costs about 0.4 ms at import (SPEC §7); behaviour is the same (constructor, ``==``,
    ``hash``, ``repr``, ``FrozenInstanceError`` on assignment, pickling).
    """

    __slots__ = ("code", "family", "name", "summary")
    __match_args__ = ("code", "name", "family", "summary")

    code: str
    name: str
    family: str  # "import", "class" or "shim"
    summary: str

    def __init__(self, code: str, name: str, family: str, summary: str) -> None:
        _set(self, "code", code)
        _set(self, "name", name)
        _set(self, "family", family)
        _set(self, "summary", summary)

    @property
    def event_name(self) -> str:
        return "ssot_guard." + self.name.replace("-", "_")

    @property
    def category(self) -> type[SSOTGuardWarning]:
        if self.family == "class":
            return ClassRuleWarning
        if self.family == "shim":
            return CompatShimWarning
        return ImportRuleWarning


RULES: Final[tuple[Rule, ...]] = (
    Rule("SSOT001", "partial-module-access", "import",
         "a missing name was read from a module still executing its body (import cycle)"),
    Rule("SSOT002", "import-cycle", "import",
         "a module received a name or module object from a module still executing its body"),
    Rule("SSOT003", "double-import", "import",
         "the same source file was executed as two different modules"),
    Rule("SSOT004", "non-canonical-instance", "class",
         "a class with a canonical name that is not the canonical class was instantiated"),
    Rule("SSOT005", "duplicate-definition", "class",
         "a class with a canonical name was defined outside its canonical module"),
    Rule("SSOT006", "compat-shim-used", "shim",
         "a removed or moved name was used through a compat shim"),
    Rule("SSOT007", "second-singleton", "class",
         "a class declared singleton was instantiated a second time"),
    Rule("SSOT008", "cross-thread-partial-access", "import",
         "a module still executing its body in one thread was read from another thread"),
    Rule("SSOT009", "missing-import", "import",
         "`from M import X` failed because first-party module M has no X"),
)  # fmt: skip

BY_CODE: Final = {rule.code: rule for rule in RULES}
BY_NAME: Final = {rule.name: rule for rule in RULES}


def lookup(key: str) -> Rule | None:
    """Find a rule by code (``SSOT002``) or name (``import-cycle`` / ``import_cycle``)."""
    key = key.strip()
    return BY_CODE.get(key.upper()) or BY_NAME.get(key.lower().replace("_", "-"))
