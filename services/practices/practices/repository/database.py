"""Declarative base of the practices service; every table lives in ``practices``."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

SCHEMA = "practices"

# Deterministic constraint names, so migrations can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Tables get this schema. Each sa.Enum names it too (schema=SCHEMA): SQLAlchemy 2.1 passes
    # MetaData.schema on to enum types, 2.0 does not, and nothing may land in "public".
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)
