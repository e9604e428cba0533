"""The tables of a synthetic service, described once and rendered twice: as Alembic migrations and as
SQLAlchemy models. Both come from the same description, so `alembic check` at head finds no difference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    migration_type: str  # the type expression in a migration file
    annotation: str  # the Python type behind Mapped[...]
    model_type: str = ""  # the type argument of mapped_column(), when the annotation does not imply it
    nullable: bool = False
    unique: bool = False
    server_default: str = ""
    references: str = ""  # a table of the same schema; the column points at its id
    ondelete: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    indexed: tuple[str, ...] = ()  # columns that get their own index

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


ID = Column("id", "sa.Integer()", "int")
STAMP_DEFAULT = "sa.func.now()"


def _stamp(name: str) -> Column:
    return Column(name, "sa.DateTime(timezone=True)", "datetime", "sa.DateTime(timezone=True)", server_default=STAMP_DEFAULT)


def step_tables(step: int) -> list[Table]:
    """Migration `step` (1-based): two or three tables, an index per foreign key, and (after the first
    step) a foreign key to the previous migration's `items` table."""
    parent = (
        (Column("parent_id", "sa.Integer()", "int", nullable=True, references=f"items_{step - 1}", ondelete="SET NULL"),)
        if step > 1
        else ()
    )
    items = Table(
        f"items_{step}",
        (
            ID,
            Column("name", "sa.String(length=80)", "str", "sa.String(80)", unique=True),
            *parent,
            _stamp("created_at"),
        ),
        indexed=("parent_id",) if parent else (),
    )
    events = Table(
        f"events_{step}",
        (
            ID,
            Column("item_id", "sa.Integer()", "int", references=items.name, ondelete="CASCADE"),
            Column("payload", "postgresql.JSONB(astext_type=sa.Text())", "dict[str, Any]", "JSONB", nullable=True),
            _stamp("happened_at"),
        ),
        indexed=("item_id",),
    )
    tables = [items, events]
    if step % 2:
        flag = Column("is_active", "sa.Boolean()", "bool", server_default='sa.text("true")')
        note = Column("note", "sa.Text()", "str", "sa.Text", nullable=True)
        tables.append(Table(f"tags_{step}", (ID, Column("label", "sa.String(length=40)", "str", "sa.String(40)"), flag, note)))
    return tables


def index_name(table: Table, column: str) -> str:
    return f"ix_{table.name}_{column}"


# -- migrations --------------------------------------------------------------------------------------


def migration_source(schema: str, service: str, step: int, revision: str, down_revision: str | None) -> str:
    tables = step_tables(step)
    upgrade = "\n".join(_create_table(table) for table in tables)
    downgrade = "\n".join(_drop_table(table) for table in reversed(tables))
    return f'''"""step {step} of {service}

Revision ID: {revision}
Revises: {down_revision or ""}
Create Date: 2025-01-01 00:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = {revision!r}
down_revision: str | Sequence[str] | None = {down_revision!r}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = {schema!r}


def upgrade() -> None:
    """Upgrade schema."""
{upgrade}


def downgrade() -> None:
    """Downgrade schema."""
{downgrade}
'''


def _create_table(table: Table) -> str:
    lines = [f"    op.create_table(\n        {table.name!r},"]
    for column in table.columns:
        default = f", server_default={column.server_default}" if column.server_default else ""
        lines.append(f"        sa.Column({column.name!r}, {column.migration_type}{default}, nullable={column.nullable}),")
    for column in table.columns:
        if column.references:
            name = f"fk_{table.name}_{column.name}_{column.references}"
            lines.append(
                f'        sa.ForeignKeyConstraint([{column.name!r}], [f"{{SCHEMA}}.{column.references}.id"], '
                f"name=op.f({name!r}), ondelete={column.ondelete!r}),"
            )
    lines.append(f'        sa.PrimaryKeyConstraint("id", name=op.f("pk_{table.name}")),')
    for column in table.columns:
        if column.unique:
            lines.append(f'        sa.UniqueConstraint({column.name!r}, name=op.f("uq_{table.name}_{column.name}")),')
    lines.append("        schema=SCHEMA,\n    )")
    for indexed in table.indexed:
        lines.append(f"    op.create_index({index_name(table, indexed)!r}, {table.name!r}, [{indexed!r}], schema=SCHEMA)")
    return "\n".join(lines)


def _drop_table(table: Table) -> str:
    lines = [
        f"    op.drop_index({index_name(table, column)!r}, table_name={table.name!r}, schema=SCHEMA)" for column in table.indexed
    ]
    lines.append(f"    op.drop_table({table.name!r}, schema=SCHEMA)")
    return "\n".join(lines)


# -- models ------------------------------------------------------------------------------------------


def models_source(schema: str, service: str, steps: int) -> str:
    classes = "\n\n".join(_model(table) for step in range(1, steps + 1) for table in step_tables(step))
    return f'''"""SQLAlchemy models of the synthetic service {service}; every table lives in ``{schema}``."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = {schema!r}

# Deterministic constraint names, so migrations can drop them by name.
NAMING_CONVENTION = {{
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}}


class Base(DeclarativeBase):
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


{classes}
'''


def _model(table: Table) -> str:
    lines = [f"class {table.class_name}(Base):", f"    __tablename__ = {table.name!r}"]
    if table.indexed:
        indexes = ", ".join(f"sa.Index({index_name(table, column)!r}, {column!r})" for column in table.indexed)
        lines.append(f"    __table_args__ = ({indexes},)")
    lines.append("")
    for column in table.columns:
        lines.append(f"    {column.name}: Mapped[{_annotation(column)}] = mapped_column({_model_arguments(column)})")
    return "\n".join(lines) + "\n"


def _annotation(column: Column) -> str:
    return f"{column.annotation} | None" if column.nullable else column.annotation


def _model_arguments(column: Column) -> str:
    if column.name == "id":
        return "primary_key=True"
    arguments = []
    if column.references:
        arguments.append(f"sa.ForeignKey({column.references + '.id'!r}, ondelete={column.ondelete!r})")
    elif column.model_type:
        arguments.append(column.model_type)
    if column.unique:
        arguments.append("unique=True")
    if column.server_default:
        arguments.append(f"server_default={column.server_default}")
    return ", ".join(arguments)
