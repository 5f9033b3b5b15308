"""ssot_guard: watch a running program's imports and classes for broken single sources of truth.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from ._config import CanonicalSpec, Settings, ShimSpec, load_settings
from ._errors import (
    ClassRuleWarning,
    CompatShimWarning,
    ConfigError,
    GuardAttributeError,
    GuardImportError,
    GuardTypeError,
    ImportRuleWarning,
    SSOTGuardError,
    SSOTGuardWarning,
    ViolationsError,
)
from ._events import ChainLink, Event
from ._guard import Guard, active, install, installed, uninstall
from ._policy import configure_logging
from ._rules import RULES, Rule
from .rules._canonical_api import canonical

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "CanonicalSpec",
    "ChainLink",
    "ClassRuleWarning",
    "CompatShimWarning",
    "ConfigError",
    "Event",
    "Guard",
    "GuardAttributeError",
    "GuardImportError",
    "GuardTypeError",
    "ImportRuleWarning",
    "Rule",
    "SSOTGuardError",
    "SSOTGuardWarning",
    "Settings",
    "ShimSpec",
    "ViolationsError",
    "__version__",
    "active",
    "canonical",
    "configure_logging",
    "install",
    "installed",
    "load_settings",
    "uninstall",
]
