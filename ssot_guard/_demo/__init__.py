"""``ssot-guard demo``: the golden-path demo of SPEC §8."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options to its sub-parser."""


def run(args: argparse.Namespace) -> int:
    """Run ``ssot-guard demo``; returns the exit status."""
    raise NotImplementedError("ssot-guard demo is not implemented yet")
