"""create notes

Revision ID: a1b2c3d4e5f6
Revises: 
Create Date: 2026-12-07 00:01:17.296758

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a1b2c3d4e5f6'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text, nullable=False))
    # A trigram index: needs the pg_trgm extension (migrations.yaml's extensions creates it first).
    op.create_index("notes_body_trgm", "notes", ["body"], postgresql_using="gin", postgresql_ops={"body": "gin_trgm_ops"})



def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("notes_body_trgm", table_name="notes")
    op.drop_table("notes")

