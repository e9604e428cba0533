"""create users

Revision ID: b1000000a001
Revises: 
Create Date: 2026-12-07 00:01:25.802283

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b1000000a001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.Text, nullable=False))



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("users")

