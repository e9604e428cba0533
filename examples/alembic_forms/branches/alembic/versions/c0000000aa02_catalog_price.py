"""catalog: price

Revision ID: c0000000aa02
Revises: c0000000aa01
Create Date: 2026-12-07 01:00:01

"""

import sqlalchemy as sa
from alembic import op

revision = "c0000000aa02"
down_revision = "c0000000aa01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("price", sa.Numeric(10, 2)))


def downgrade() -> None:
    op.drop_column("products", "price")
