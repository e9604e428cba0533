"""Runtime configuration of the practices service, read from the environment."""

import os

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


class _Config:
    """Settings resolved on access, so a changed environment is never stale."""

    @property
    def DATABASE_URL(self) -> str:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise RuntimeError("DATABASE_URL is not set; export it, e.g. DATABASE_URL=postgresql://user:pass@localhost:5432/app")
        return normalize_database_url(url)


Config = _Config()
