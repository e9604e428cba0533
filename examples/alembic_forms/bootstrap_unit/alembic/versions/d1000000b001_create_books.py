"""create books

Revision ID: d1000000b001
Revises: 
Create Date: 2026-12-07 00:38:07.269616

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd1000000b001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table("books", sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.String(200), nullable=False))



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("books")

