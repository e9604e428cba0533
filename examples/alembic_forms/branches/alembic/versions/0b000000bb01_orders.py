"""orders: orders, referencing catalog's products

Revision ID: 0b000000bb01
Revises:
Create Date: 2026-12-07 01:00:02

"""

import sqlalchemy as sa
from alembic import op

revision = "0b000000bb01"
down_revision = None
branch_labels = ("orders",)  # the first revision of the orders branch
depends_on = "c0000000aa01"  # products must exist first


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("orders")
