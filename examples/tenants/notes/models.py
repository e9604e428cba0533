"""The notes service's tables, without a schema: each tenant's are in its own schema (env.py's search_path)."""

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func

metadata = MetaData()

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, server_default=func.now()),
)
