"""Runtime configuration of the movements service, read from the environment."""

import os

from sqlalchemy.engine import make_url

DRIVER = "postgresql+psycopg2"


def normalize_database_url(url: str) -> str:
    """Point a plain ``postgres://`` / ``postgresql://`` URL at psycopg2.

    URLs that already name a driver are left alone; libpq understands
    ``sslmode`` itself, so the query string is kept as is.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=DRIVER)
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
