"""off fields

Open Food Facts import: barcode lookup, brand, raw nutriments and Nutri-Score.

Revision ID: 0002
Revises: 0001
Create Date: 2025-10-08 11:05:12.774390

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "meals"

nutri_score = sa.Enum("a", "b", "c", "d", "e", name="nutri_score", schema=SCHEMA)


def upgrade() -> None:
    """Upgrade schema."""
    # add_column() does not create enum types (create_table() does), so do it here.
    nutri_score.create(op.get_bind(), checkfirst=True)
    op.add_column("foods", sa.Column("barcode", sa.String(length=32), nullable=True), schema=SCHEMA)
    op.add_column("foods", sa.Column("brand", sa.String(length=200), nullable=True), schema=SCHEMA)
    op.add_column(
        "foods",
        sa.Column("nutriments", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=SCHEMA,
    )
    op.add_column("foods", sa.Column("nutri_score", nutri_score, nullable=True), schema=SCHEMA)
    op.add_column(
        "foods",
        sa.Column("off_synced_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    # Products are looked up by barcode; NULLs (hand-made foods) don't collide.
    # lint: ignore[require-concurrent-index-creation] -- example service: foods holds a few test rows; on a big table, create it with postgresql_concurrently=True in an autocommit_block
    op.create_index("ix_foods_barcode", "foods", ["barcode"], unique=True, schema=SCHEMA)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_foods_barcode", table_name="foods", schema=SCHEMA)
    op.drop_column("foods", "off_synced_at", schema=SCHEMA)
    op.drop_column("foods", "nutri_score", schema=SCHEMA)
    op.drop_column("foods", "nutriments", schema=SCHEMA)
    op.drop_column("foods", "brand", schema=SCHEMA)
    op.drop_column("foods", "barcode", schema=SCHEMA)
    nutri_score.drop(op.get_bind(), checkfirst=True)
