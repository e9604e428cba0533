"""create entries and entry_log

Revision ID: dc24bafd4ce4
Revises:
Create Date: 2026-12-02 09:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "dc24bafd4ce4"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        schema="ledger",
    )
    op.create_table(
        "entry_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), server_default=sa.text("now()"), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger.entries.id"]),
        sa.PrimaryKeyConstraint("id"),
        schema="audit",
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("entry_log", schema="audit")
    op.drop_table("entries", schema="ledger")
