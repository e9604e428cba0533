"""Alembic environment for the meals service (async, asyncpg)."""

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from meals.repository.models import SCHEMA, Base
from meals.web.config import Config, normalize_database_url
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateSchema

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def database_url() -> str:
    """The service's own setting first; sqlalchemy.url when only that is set."""
    try:
        return Config.DATABASE_URL
    except RuntimeError:
        fallback = config.get_main_option("sqlalchemy.url")
        if not fallback:
            raise
        return normalize_database_url(fallback)


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # alembic_version lives next to the tables this service owns.
        version_table_schema=SCHEMA,
        include_schemas=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    configure(
        url=database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute(CreateSchema(SCHEMA, if_not_exists=True))
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # The version table is created inside SCHEMA, so the schema must exist
    # (and be committed) before Alembic looks for it.
    connection.execute(CreateSchema(SCHEMA, if_not_exists=True))
    connection.commit()
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # Imported here: it needs greenlet, which offline (--sql) runs can do without.
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
