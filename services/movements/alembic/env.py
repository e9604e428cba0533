"""Alembic environment for the movements service (sync, psycopg2)."""

from logging.config import fileConfig
from typing import Any

from alembic import context
from movements.repository.models import SCHEMA, Base
from movements.web.config import Config, normalize_database_url
from sqlalchemy import engine_from_config, pool
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


# engine_from_config() reads the URL from the ini section; "%" must be doubled
# there because the ini parser interpolates (think URL-encoded passwords).
config.set_main_option("sqlalchemy.url", database_url().replace("%", "%%"))


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
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute(CreateSchema(SCHEMA, if_not_exists=True))
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        # The version table is created inside SCHEMA, so the schema must
        # exist (and be committed) before Alembic looks for it.
        connection.execute(CreateSchema(SCHEMA, if_not_exists=True))
        connection.commit()
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
