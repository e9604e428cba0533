"""The parts service's tables (schema parts)."""

from sqlalchemy import Column, Integer, MetaData, Table, Text

metadata = MetaData()

widgets = Table(
    "widgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    schema="parts",
)
