"""``ssot-guard check``: import every first-party module first, in a fresh interpreter."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` options to its sub-parser."""


def run(args: argparse.Namespace) -> int:
    """Run ``ssot-guard check``; returns the exit status."""
    raise NotImplementedError("ssot-guard check is not implemented yet")
