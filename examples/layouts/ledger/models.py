"""The ledger service's tables, in its two schemas: ledger and audit."""

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, Numeric, Table, func

metadata = MetaData()

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Numeric),
    schema="ledger",
)

entry_log = Table(
    "entry_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_id", Integer, ForeignKey("ledger.entries.id")),
    Column("at", DateTime, server_default=func.now()),
    schema="audit",
)
