"""Per-environment overrides, built on the defaults of chatapp.config.base."""

from __future__ import annotations

NAME = "production"

try:
    # chatapp.config.base imports this module before it defines DEFAULT_RATE_LIMIT: when
    # base is imported first, this import fails and the fallback silently disables rate
    # limiting in every process.
    from chatapp.config.base import DEFAULT_RATE_LIMIT
except ImportError:
    DEFAULT_RATE_LIMIT = None

RATE_LIMIT: int | None = DEFAULT_RATE_LIMIT
