"""Conversations between a user and one of the coaching agents."""

import enum
import uuid
from datetime import datetime
from typing import Any, Dict, Optional

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import SCHEMA, Base, enum_values


class SessionStatus(str, enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class AgentSession(Base):
    __tablename__ = "agent_sessions"
    __table_args__ = (sa.Index("ix_agent_sessions_user_id_started_at", "user_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=sa.text("gen_random_uuid()"))
    # users.users.id, kept as a plain column: no cross-schema foreign keys.
    user_id: Mapped[uuid.UUID]
    agent_name: Mapped[str] = mapped_column(sa.String(80))
    status: Mapped[SessionStatus] = mapped_column(
        sa.Enum(SessionStatus, name="session_status", values_callable=enum_values, schema=SCHEMA),
        server_default=SessionStatus.ACTIVE.value,
    )
    # Model, prompt version and whatever else the agent needs to resume.
    context: Mapped[Dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    ended_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime(timezone=True))
