"""chatapp: a small chat service in the middle of a single-source-of-truth consolidation."""
