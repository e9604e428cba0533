"""Resolve where and how the journal migrations run, from the environment.

Shared by every service whose tables live in the central ``models`` package
(today: agent + journal), so they all agree on URL, driver and schema.
"""

# Annotations stay unevaluated: the service interpreter may be Python 3.8.
from __future__ import annotations

import os
from typing import Any

from sqlalchemy.engine import URL, make_url

DEFAULT_SCHEMA = "journal"
DEFAULT_DRIVER = "psycopg2"
ENVIRONMENTS = ("local", "supabase")


def get_environment() -> str:
    """ALEMBIC_ENV: "local" (default) or "supabase"."""
    env = os.environ.get("ALEMBIC_ENV", "local").strip().lower()
    if env not in ENVIRONMENTS:
        raise RuntimeError(f"ALEMBIC_ENV must be one of {ENVIRONMENTS}, got {env!r}")
    return env


def get_target_schema() -> str:
    """DB_SCHEMA, or "journal"."""
    return os.environ.get("DB_SCHEMA") or DEFAULT_SCHEMA


def _url_from_components() -> URL | None:
    host = os.environ.get("DB_HOST")
    if not host:
        return None
    missing = [name for name in ("DB_USER", "DB_NAME") if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"DB_HOST is set but {', '.join(missing)} is not")
    # URL.create() escapes the password, which string formatting would not.
    return URL.create(
        "postgresql",
        username=os.environ["DB_USER"],
        password=os.environ.get("DB_PASS") or None,
        host=host,
        port=int(os.environ.get("DB_PORT") or 5432),
        database=os.environ["DB_NAME"],
    )


def _apply_driver(url: URL, environment: str) -> URL:
    """DB_DRIVER wins, then the driver named in the URL, then psycopg2."""
    named = url.drivername.partition("+")[2]
    driver = os.environ.get("DB_DRIVER") or named or DEFAULT_DRIVER
    url = url.set(drivername=f"postgresql+{driver}")  # also fixes "postgres://"

    query = dict(url.query)
    if driver == "asyncpg" and "sslmode" in query:
        # asyncpg rejects libpq's sslmode but takes the same values as ssl=.
        query["ssl"] = query.pop("sslmode")
    if environment == "supabase" and "sslmode" not in query and "ssl" not in query:
        # Hosted Supabase: encrypt unless the URL already says how.
        query["ssl" if driver == "asyncpg" else "sslmode"] = "require"
    return url.set(query=query)


def get_database_url(fallback: str | None = None) -> str:
    """DATABASE_URL, else DB_HOST/DB_PORT/DB_USER/DB_PASS/DB_NAME, else ``fallback``."""
    raw = os.environ.get("DATABASE_URL")
    url = make_url(raw) if raw else _url_from_components()
    if url is None and fallback:
        url = make_url(fallback)
    if url is None:
        raise RuntimeError(
            "No database configured: set DATABASE_URL, or DB_HOST, DB_USER, DB_NAME (and optionally DB_PORT, DB_PASS)"
        )
    url = _apply_driver(url, get_environment())
    return url.render_as_string(hide_password=False)


def is_async_url(url: str) -> bool:
    return bool(make_url(url).get_dialect().is_async)


def get_connect_args(url: str) -> dict[str, Any]:
    """Driver options that cannot be expressed in the URL."""
    if get_environment() == "supabase" and make_url(url).get_driver_name() == "asyncpg":
        # Supabase's transaction-mode pooler cannot keep prepared statements
        # across transactions, and asyncpg caches them by default.
        return {"statement_cache_size": 0}
    return {}
