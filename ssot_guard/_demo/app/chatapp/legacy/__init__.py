"""Code from before the consolidation."""
