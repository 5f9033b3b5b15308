"""The AI assistant."""
