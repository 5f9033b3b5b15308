"""ssot_guard: watch a running program's imports and classes for broken single sources of truth.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The public names are imported on first use (PEP 562): the pytest plugin's entry point
# imports this package in every pytest run, also where the guard stays inert, and the guard's
# dependencies (wrapt, structlog) cost tens of milliseconds there. ``install()`` imports
# every module below before the finder goes in, so no guard module is imported lazily
# under the guard's own watch.
_LAZY: dict[str, str] = {
    "CanonicalSpec": "._config",
    "Settings": "._config",
    "ShimSpec": "._config",
    "load_settings": "._config",
    "ClassRuleWarning": "._errors",
    "CompatShimWarning": "._errors",
    "ConfigError": "._errors",
    "GuardAttributeError": "._errors",
    "GuardImportError": "._errors",
    "GuardTypeError": "._errors",
    "ImportRuleWarning": "._errors",
    "SSOTGuardError": "._errors",
    "SSOTGuardWarning": "._errors",
    "ViolationsError": "._errors",
    "ChainLink": "._events",
    "Event": "._events",
    "Guard": "._guard",
    "active": "._guard",
    "install": "._guard",
    "installed": "._guard",
    "uninstall": "._guard",
    "configure_logging": "._policy",
    "RULES": "._rules",
    "Rule": "._rules",
    "canonical": ".rules._canonical_api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
