"""dbtasks: declarative Invoke tasks that run each service's own Alembic migrations in a monorepo."""

__version__ = "0.1.0"
