"""The billing service's tables (public schema, shared with accounts)."""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Numeric, Table

metadata = MetaData()

# Owned by the accounts service: declared here (id only) so that the foreign key below resolves.
# env.py's include_object leaves it out of autogenerate.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id")),
    Column("amount", Numeric, nullable=False),
)
