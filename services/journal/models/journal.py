"""Journal entries written by users (or summarised by an agent) and their tags."""

import enum
import uuid
from datetime import datetime
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.agent import AgentSession
from models.base import SCHEMA, Base, enum_values


class EntryKind(str, enum.Enum):
    REFLECTION = "reflection"
    GRATITUDE = "gratitude"
    CHECK_IN = "check_in"
    AGENT_SUMMARY = "agent_summary"


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        sa.CheckConstraint("mood BETWEEN 1 AND 5", name="mood_range"),
        sa.Index("ix_journal_entries_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=sa.text("gen_random_uuid()"))
    # users.users.id, kept as a plain column: no cross-schema foreign keys.
    user_id: Mapped[uuid.UUID]
    agent_session_id: Mapped[Optional[uuid.UUID]] = mapped_column(sa.ForeignKey(AgentSession.id, ondelete="SET NULL"))
    kind: Mapped[EntryKind] = mapped_column(
        sa.Enum(EntryKind, name="entry_kind", values_callable=enum_values, schema=SCHEMA),
        server_default=EntryKind.REFLECTION.value,
    )
    title: Mapped[Optional[str]] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    mood: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    # Client metadata (device, prompt id, ...); "metadata" is reserved by SQLAlchemy.
    details: Mapped[Dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now())

    tags: Mapped[List["EntryTag"]] = relationship(back_populates="entry", cascade="all, delete-orphan")


class EntryTag(Base):
    __tablename__ = "entry_tags"
    __table_args__ = (sa.Index("ix_entry_tags_tag", "tag"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey(JournalEntry.id, ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    entry: Mapped[JournalEntry] = relationship(back_populates="tags")
