"""journal tables

Revision ID: 3e41ce1dbfee
Revises:
Create Date: 2025-08-19 17:48:36.201553

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from alembic_config.utils import get_target_schema
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "3e41ce1dbfee"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Same resolution as models/ and env.py: "journal" unless DB_SCHEMA says otherwise.
SCHEMA = get_target_schema()


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agent_name", sa.String(length=80), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "completed", "abandoned", name="session_status", schema=SCHEMA),
            server_default="active",
            nullable=False,
        ),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_sessions")),
        schema=SCHEMA,
    )
    op.create_index("ix_agent_sessions_user_id_started_at", "agent_sessions", ["user_id", "started_at"], schema=SCHEMA)
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agent_session_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("reflection", "gratitude", "check_in", "agent_summary", name="entry_kind", schema=SCHEMA),
            server_default="reflection",
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mood", sa.SmallInteger(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("mood BETWEEN 1 AND 5", name=op.f("ck_journal_entries_mood_range")),
        sa.ForeignKeyConstraint(
            ["agent_session_id"],
            [f"{SCHEMA}.agent_sessions.id"],
            name=op.f("fk_journal_entries_agent_session_id_agent_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        schema=SCHEMA,
    )
    op.create_index("ix_journal_entries_user_id_created_at", "journal_entries", ["user_id", "created_at"], schema=SCHEMA)
    op.create_table(
        "entry_tags",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            [f"{SCHEMA}.journal_entries.id"],
            name=op.f("fk_entry_tags_entry_id_journal_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", "tag", name=op.f("pk_entry_tags")),
        schema=SCHEMA,
    )
    op.create_index("ix_entry_tags_tag", "entry_tags", ["tag"], schema=SCHEMA)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_entry_tags_tag", table_name="entry_tags", schema=SCHEMA)
    op.drop_table("entry_tags", schema=SCHEMA)
    op.drop_index("ix_journal_entries_user_id_created_at", table_name="journal_entries", schema=SCHEMA)
    op.drop_table("journal_entries", schema=SCHEMA)
    op.drop_index("ix_agent_sessions_user_id_started_at", table_name="agent_sessions", schema=SCHEMA)
    op.drop_table("agent_sessions", schema=SCHEMA)
    # drop_table() leaves enum types behind; remove them so base is really empty.
    sa.Enum(name="entry_kind", schema=SCHEMA).drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="session_status", schema=SCHEMA).drop(op.get_bind(), checkfirst=True)
