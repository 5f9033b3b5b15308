"""Policy: turns an event into a structured log event, a Python warning, or a failure.

The library never configures structlog or logging. When the application has configured
structlog, events go through ``structlog.get_logger("ssot_guard")``; otherwise through the
standard ``logging`` logger ``ssot_guard`` (warnings reach stderr through logging's
last-resort handler, ``info`` stays silent), because unconfigured structlog prints to
stdout and programs print their data there.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Final

import structlog

from ._events import Event
from ._rules import BY_CODE

STDLIB_LOGGER: Final = logging.getLogger("ssot_guard")
_LEVELS: Final = {"log": "info", "warn": "warning", "error": "error"}


def _structlog_configured() -> bool:
    try:
        return bool(structlog.is_configured())
    except Exception:  # pragma: no cover - defensive against exotic structlog versions
        return False


class Policy:
    """Emits events through the configured logger and the warnings machinery."""

    def __init__(self, logger: Any = None) -> None:
        self._logger = logger

    def log(self, event_name: str, level: str = "info", **fields: Any) -> None:
        """Emit one structured log event, routed as the module docstring explains."""
        if self._logger is not None:
            getattr(self._logger, level)(event_name, **fields)
        elif _structlog_configured():
            getattr(structlog.get_logger("ssot_guard"), level)(event_name, **fields)
        else:
            numeric = logging.getLevelName(level.upper())
            if STDLIB_LOGGER.isEnabledFor(numeric):
                text = json.dumps(fields, sort_keys=True, default=str)
                STDLIB_LOGGER.log(numeric, "%s %s", event_name, text, extra={"ssot_guard": fields})

    def emit(self, event: Event) -> None:
        """Log the first occurrence of *event* and, at ``warn``/``error``, warn."""
        data = event.as_dict()
        self.log(event.event_name, _LEVELS.get(event.severity, "info"), **data)
        if event.severity in ("warn", "error"):
            self.warn(event)

    @staticmethod
    def warning_text(event: Event) -> str:
        text = f"{event.rule} {event.name}: {event.message}"
        if event.chain:
            text += f" [chain: {event.chain_text()}]"
        return text

    def warn(self, event: Event) -> None:
        category = BY_CODE[event.rule].category
        if event.origin is not None:
            filename, lineno, module = event.origin
        else:
            filename, lineno, module = "<unknown>", 0, None
        warnings.warn_explicit(
            self.warning_text(event),
            category,
            filename,
            lineno,
            module=module,
            registry=None,
        )
