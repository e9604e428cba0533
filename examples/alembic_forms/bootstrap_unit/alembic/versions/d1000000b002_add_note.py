"""add note

Revision ID: d1000000b002
Revises: d1000000b001
Create Date: 2026-12-07 00:38:07.698834

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd1000000b002'
down_revision: Union[str, Sequence[str], None] = 'd1000000b001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("books", sa.Column("note", sa.Text))



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column("books", "note")

