"""Declarative base shared by the agent and journal models."""

import enum
from typing import List, Type

import sqlalchemy as sa
from alembic_config.utils import get_target_schema
from sqlalchemy.orm import DeclarativeBase

# "journal" unless DB_SCHEMA overrides it; enum types follow the same schema.
SCHEMA = get_target_schema()

# Deterministic constraint names, so migrations can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


def enum_values(enum_cls: Type[enum.Enum]) -> List[str]:
    # Store the lowercase values, not the Python member names.
    return [member.value for member in enum_cls]
