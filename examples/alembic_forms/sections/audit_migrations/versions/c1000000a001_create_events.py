"""create events

Revision ID: c1000000a001
Revises: 
Create Date: 2026-12-07 00:01:27.411209

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c1000000a001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    schema = op.get_context().version_table_schema  # the -x schema env.py read
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Text), schema=schema)



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("events", schema=op.get_context().version_table_schema)

