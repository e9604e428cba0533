"""catalog: products

Revision ID: c0000000aa01
Revises:
Create Date: 2026-12-07 01:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c0000000aa01"
down_revision = None
branch_labels = ("catalog",)  # the first revision of the catalog branch
depends_on = None


def upgrade() -> None:
    op.create_table("products", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("products")
