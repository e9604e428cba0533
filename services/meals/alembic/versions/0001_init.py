"""init

Revision ID: 0001
Revises:
Create Date: 2025-09-03 14:27:51.640219

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "meals"

# create_table() emits CREATE TYPE; downgrade drops it explicitly.
meal_type = sa.Enum("breakfast", "lunch", "dinner", "snack", name="meal_type", schema=SCHEMA)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "foods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kcal_per_100g", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("protein_g", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("carbs_g", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("fat_g", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_foods")),
        schema=SCHEMA,
    )
    op.create_table(
        "meals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("meal_type", meal_type, nullable=False),
        sa.Column(
            "eaten_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meals")),
        schema=SCHEMA,
    )
    op.create_index("ix_meals_user_id_eaten_at", "meals", ["user_id", "eaten_at"], schema=SCHEMA)
    op.create_table(
        "meal_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meal_id", sa.Integer(), nullable=False),
        sa.Column("food_id", sa.Integer(), nullable=False),
        sa.Column(
            "quantity_g",
            sa.Numeric(precision=8, scale=2),
            server_default=sa.text("100"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["meal_id"],
            [f"{SCHEMA}.meals.id"],
            name=op.f("fk_meal_items_meal_id_meals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["food_id"],
            [f"{SCHEMA}.foods.id"],
            name=op.f("fk_meal_items_food_id_foods"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meal_items")),
        schema=SCHEMA,
    )
    op.create_index("ix_meal_items_meal_id", "meal_items", ["meal_id"], schema=SCHEMA)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_meal_items_meal_id", table_name="meal_items", schema=SCHEMA)
    op.drop_table("meal_items", schema=SCHEMA)
    op.drop_index("ix_meals_user_id_eaten_at", table_name="meals", schema=SCHEMA)
    op.drop_table("meals", schema=SCHEMA)
    op.drop_table("foods", schema=SCHEMA)
    # drop_table() leaves the enum type behind; remove it so base is really empty.
    meal_type.drop(op.get_bind(), checkfirst=True)
