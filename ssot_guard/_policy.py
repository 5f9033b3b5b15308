"""Policy: turns an event into a structured log event, a Python warning, or a failure.

The library never configures structlog or logging. When the application has configured
structlog, events go through ``structlog.get_logger("ssot_guard")``; otherwise through the
standard ``logging`` logger ``ssot_guard`` (warnings reach stderr through logging's
last-resort handler, ``info`` stays silent), because unconfigured structlog prints to
stdout and programs print their data there.
"""

from __future__ import annotations

import json as _json
import logging
import sys
import warnings
from typing import Any, Final, TextIO

from ._events import Event
from ._rules import BY_CODE

STDLIB_LOGGER: Final = logging.getLogger("ssot_guard")
_LEVELS: Final = {"log": "info", "warn": "warning", "error": "error"}


def _configured_structlog() -> Any:
    """The ``structlog`` module if the application configured it, else ``None``.

    An application that configured structlog has imported it, so the guard never imports
    structlog itself (it would only cost start-up time: SPEC §7).
    """
    structlog = sys.modules.get("structlog")
    if structlog is None:
        return None
    try:
        return structlog if structlog.is_configured() else None
    except Exception:  # pragma: no cover - defensive against exotic structlog versions
        return None


class Policy:
    """Emits events through the configured logger and the warnings machinery."""

    def __init__(self, logger: Any = None) -> None:
        self._logger = logger

    def log(self, event_name: str, level: str = "info", **fields: Any) -> None:
        """Emit one structured log event, routed as the module docstring explains."""
        if self._logger is not None:
            getattr(self._logger, level)(event_name, **fields)
        elif (structlog := _configured_structlog()) is not None:
            getattr(structlog.get_logger("ssot_guard"), level)(event_name, **fields)
        else:
            numeric = logging.getLevelName(level.upper())
            if STDLIB_LOGGER.isEnabledFor(numeric):
                text = _json.dumps(fields, sort_keys=True, default=str)
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


def configure_logging(json: bool | None = None, *, stream: TextIO | None = None) -> None:
    """Configure structlog so the guard's events (and the application's) are rendered.

    For applications that ask for it (SPEC §3.3): the library itself never configures
    logging. ``json=None`` picks a coloured console renderer when *stream* is a terminal
    and one JSON object per line otherwise (``json=True``/``False`` force either). Output
    goes to *stream*, by default ``sys.stderr``: never stdout, where programs print data.
    This calls ``structlog.configure()``, so it replaces an earlier structlog configuration.
    """
    import structlog

    out = stream if stream is not None else sys.stderr
    if json is None:
        isatty = getattr(out, "isatty", None)
        json = not (callable(isatty) and isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        processors += [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer())
    structlog.configure(
        processors=processors,
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
