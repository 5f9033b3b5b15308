"""pytest plugin: strict mode in test runs (SPEC §9). Inert unless enabled.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations
