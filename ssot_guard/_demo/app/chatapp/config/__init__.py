"""The configuration layer."""
