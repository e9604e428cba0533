"""Alembic environment for the agent + journal tables (shared alembic_config).

Everything environment-specific (URL, driver, schema, local vs supabase) is
resolved by alembic_config; this file only wires it into Alembic. It runs sync
(psycopg2, the default) or async (asyncpg) depending on the resolved driver.
"""

import asyncio
import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic_config.config import load_settings, target_metadata
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateSchema

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

settings = load_settings(fallback_url=config.get_main_option("sqlalchemy.url"))
# Several inputs can change the target; say which one won (never the password).
logging.getLogger("alembic.env").info(
    "ALEMBIC_ENV=%s schema=%s driver=%s", settings.environment, settings.schema, settings.url.split("://", 1)[0]
)


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # alembic_version lives next to the tables this service owns.
        version_table_schema=settings.schema,
        include_schemas=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    configure(url=settings.url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.execute(CreateSchema(settings.schema, if_not_exists=True))
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # The version table is created inside the schema, so the schema must
    # exist (and be committed) before Alembic looks for it.
    connection.execute(CreateSchema(settings.schema, if_not_exists=True))
    connection.commit()
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # Imported here: it needs greenlet, which sync and offline runs do without.
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(settings.url, poolclass=pool.NullPool, connect_args=settings.connect_args)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    if settings.is_async:
        asyncio.run(run_async_migrations())
        return
    engine = create_engine(settings.url, poolclass=pool.NullPool, connect_args=settings.connect_args)
    try:
        with engine.connect() as connection:
            do_run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
