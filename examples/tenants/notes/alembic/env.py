"""Alembic environment of a service with a schema per tenant: `alembic -x tenant=acme upgrade head` migrates acme's.

The tenant's schema comes first on the search_path and is the dialect's default schema, so the migrations and the
models name no schema, and alembic_version is kept in the tenant's schema too.
"""

from logging.config import fileConfig

from alembic import context
from models import metadata
from sqlalchemy import engine_from_config, pool, text

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = metadata
tenant = context.get_x_argument(as_dictionary=True).get("tenant", "public")


def include_object(object, name, type_, reflected, compare_to):
    """Autogenerate sees the tenant's schema as the default one, alembic_version included: leave that out."""
    return not (type_ == "table" and name == "alembic_version")


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table_schema=tenant,
    )
    with context.begin_transaction():
        context.execute(f'SET search_path TO "{tenant}"')
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        connection.execute(text(f'SET search_path TO "{tenant}"'))
        connection.commit()
        connection.dialect.default_schema_name = tenant
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=tenant,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
