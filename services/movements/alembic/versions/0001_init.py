"""init

Revision ID: 0001
Revises:
Create Date: 2025-08-28 09:02:44.318205

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "movements"

# create_table() emits CREATE TYPE for these; downgrade drops them explicitly.
movement_pattern = sa.Enum(
    "push",
    "pull",
    "squat",
    "hinge",
    "lunge",
    "carry",
    "rotation",
    name="movement_pattern",
    schema=SCHEMA,
)
body_region = sa.Enum("upper", "lower", "core", name="body_region", schema=SCHEMA)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("pattern", movement_pattern, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
        sa.UniqueConstraint("name", name=op.f("uq_movements_name")),
        schema=SCHEMA,
    )
    op.create_table(
        "muscle_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("region", body_region, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_muscle_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_muscle_groups_name")),
        schema=SCHEMA,
    )
    op.create_table(
        "exercises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "equipment",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("media", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            [f"{SCHEMA}.movements.id"],
            name=op.f("fk_exercises_movement_id_movements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exercises")),
        sa.UniqueConstraint("name", name=op.f("uq_exercises_name")),
        schema=SCHEMA,
    )
    op.create_index("ix_exercises_movement_id", "exercises", ["movement_id"], schema=SCHEMA)
    op.create_table(
        "exercise_muscle_groups",
        sa.Column("exercise_id", sa.Integer(), nullable=False),
        sa.Column("muscle_group_id", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_id"],
            [f"{SCHEMA}.exercises.id"],
            name=op.f("fk_exercise_muscle_groups_exercise_id_exercises"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["muscle_group_id"],
            [f"{SCHEMA}.muscle_groups.id"],
            name=op.f("fk_exercise_muscle_groups_muscle_group_id_muscle_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exercise_id", "muscle_group_id", name=op.f("pk_exercise_muscle_groups")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("exercise_muscle_groups", schema=SCHEMA)
    op.drop_index("ix_exercises_movement_id", table_name="exercises", schema=SCHEMA)
    op.drop_table("exercises", schema=SCHEMA)
    op.drop_table("muscle_groups", schema=SCHEMA)
    op.drop_table("movements", schema=SCHEMA)
    # drop_table() leaves enum types behind; remove them so base is really empty.
    body_region.drop(op.get_bind(), checkfirst=True)
    movement_pattern.drop(op.get_bind(), checkfirst=True)
