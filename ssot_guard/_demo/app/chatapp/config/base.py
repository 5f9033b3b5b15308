"""Application settings. Imports the environment overrides first, then defines defaults."""

from chatapp.config import environment

DATABASE_URL = "sqlite:///chat.db"
DATABASE_PASSWORD = "s3cret-demo-password"  # never appears in any guard output
DEFAULT_RATE_LIMIT = 20  # messages per minute

SETTINGS = {
    "environment": environment.NAME,
    "database_url": DATABASE_URL,
    "rate_limit": environment.RATE_LIMIT,
}
