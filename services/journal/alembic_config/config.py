"""Everything alembic/env.py needs, gathered in one place."""

# Annotations stay unevaluated: the service interpreter may be Python 3.8.
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models import metadata
from sqlalchemy import MetaData

from alembic_config import utils

# The central models package declares every table migrated here.
target_metadata: MetaData = metadata


@dataclass(frozen=True)
class MigrationSettings:
    url: str
    schema: str
    environment: str
    is_async: bool
    connect_args: dict[str, Any] = field(default_factory=dict)


def load_settings(fallback_url: str | None = None) -> MigrationSettings:
    """Resolve the settings; ``fallback_url`` is alembic's sqlalchemy.url, if any."""
    url = utils.get_database_url(fallback_url)
    schema = utils.get_target_schema()
    if target_metadata.schema != schema:
        # models/ read DB_SCHEMA at import time; refuse a half-switched run.
        raise RuntimeError(f"models use schema {target_metadata.schema!r} but DB_SCHEMA resolves to {schema!r}")
    return MigrationSettings(
        url=url,
        schema=schema,
        environment=utils.get_environment(),
        is_async=utils.is_async_url(url),
        connect_args=utils.get_connect_args(url),
    )
