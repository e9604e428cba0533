"""soft delete program templates

Revision ID: 3b7a1d2e4f56
Revises: 189b1231afd4
Create Date: 2025-10-02 16:41:27.093114

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3b7a1d2e4f56"
down_revision: Union[str, Sequence[str], None] = "189b1231afd4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "habits"


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        "program_templates",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    # Listing a user's live templates is the hot path; deleted rows stay out.
    # lint: ignore[require-concurrent-index-creation] -- example service: program_templates holds a few test rows; on a big table, create it with postgresql_concurrently=True in an autocommit_block
    op.create_index(
        "ix_program_templates_live_owner",
        "program_templates",
        ["owner_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(
        "ix_program_templates_live_owner",
        table_name="program_templates",
        schema=SCHEMA,
    )
    op.drop_column("program_templates", "deleted_at", schema=SCHEMA)
