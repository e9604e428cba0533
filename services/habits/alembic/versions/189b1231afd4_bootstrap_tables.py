"""bootstrap tables

Revision ID: 189b1231afd4
Revises:
Create Date: 2025-09-12 10:14:03.512877

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "189b1231afd4"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "habits"

# create_table() emits CREATE TYPE for these; downgrade drops them explicitly.
habit_frequency = sa.Enum("daily", "weekly", "monthly", name="habit_frequency", schema=SCHEMA)
tracking_status = sa.Enum("done", "skipped", "missed", name="tracking_status", schema=SCHEMA)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "program_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "structure",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_templates")),
        schema=SCHEMA,
    )
    op.create_table(
        "habits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("program_template_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("frequency", habit_frequency, server_default="daily", nullable=False),
        sa.Column("reminder", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["program_template_id"],
            [f"{SCHEMA}.program_templates.id"],
            name=op.f("fk_habits_program_template_id_program_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habits")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_habits_user_id_is_active",
        "habits",
        ["user_id", "is_active"],
        schema=SCHEMA,
    )
    op.create_table(
        "habit_tracking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("habit_id", sa.Integer(), nullable=False),
        sa.Column(
            "tracked_on",
            sa.Date(),
            server_default=sa.func.current_date(),
            nullable=False,
        ),
        sa.Column("status", tracking_status, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["habit_id"],
            [f"{SCHEMA}.habits.id"],
            name=op.f("fk_habit_tracking_habit_id_habits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habit_tracking")),
        sa.UniqueConstraint(
            "habit_id",
            "tracked_on",
            name=op.f("uq_habit_tracking_habit_id_tracked_on"),
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("habit_tracking", schema=SCHEMA)
    op.drop_index("ix_habits_user_id_is_active", table_name="habits", schema=SCHEMA)
    op.drop_table("habits", schema=SCHEMA)
    op.drop_table("program_templates", schema=SCHEMA)
    # drop_table() leaves enum types behind; remove them so base is really empty.
    tracking_status.drop(op.get_bind(), checkfirst=True)
    habit_frequency.drop(op.get_bind(), checkfirst=True)
