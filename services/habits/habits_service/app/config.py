"""Runtime settings for the habits service, read from the environment."""

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url

DRIVER = "postgresql+asyncpg"


def normalize_database_url(url: str) -> str:
    """Point a plain PostgreSQL URL at asyncpg and translate libpq-only options.

    Hosting dashboards hand out ``postgres://`` / ``postgresql://`` URLs with
    ``sslmode=``; asyncpg rejects ``sslmode`` but accepts the same values
    under ``ssl=``. URLs that already name a driver are left alone.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=DRIVER)
    if parsed.drivername == DRIVER and "sslmode" in parsed.query:
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Settings:
    database_url: str


def get_settings() -> Settings:
    """Build settings from the current environment.

    Deliberately not cached: Alembic may run several times in one process
    with a different DATABASE_URL each time.
    """
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set; export it, e.g. DATABASE_URL=postgresql://user:pass@localhost:5432/app")
    return Settings(database_url=normalize_database_url(url))
