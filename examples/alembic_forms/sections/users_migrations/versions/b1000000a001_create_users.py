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
    # email_address is a domain the project keeps in SQL (migrations.yaml's prepare runs it before this revision).
    op.execute("CREATE TABLE users (id serial PRIMARY KEY, email email_address NOT NULL)")



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("users")

