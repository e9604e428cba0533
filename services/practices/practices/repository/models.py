"""SQLAlchemy models of the practices service.

A *prescription* is a planned workout made of prescribed movements; a
*practice* is one session of it, and *sets* record what was actually done.
Movement ids belong to the movements service and are stored without a FK.
"""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practices.repository.database import SCHEMA, Base


class PracticeStatus(str, enum.Enum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"


class Prescription(Base):
    __tablename__ = "prescriptions"
    __table_args__ = (sa.Index("ix_prescriptions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    name: Mapped[str] = mapped_column(sa.String(120))
    notes: Mapped[Optional[str]] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    movements: Mapped[List["PrescribedMovement"]] = relationship(
        back_populates="prescription",
        order_by="PrescribedMovement.position",
        passive_deletes=True,
    )


class PrescribedMovement(Base):
    __tablename__ = "prescribed_movements"
    __table_args__ = (sa.UniqueConstraint("prescription_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(sa.ForeignKey(Prescription.id, ondelete="CASCADE"))
    movement_id: Mapped[int]
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    # e.g. {"sets": 3, "reps": "8-10", "load": "RPE 8"}
    target: Mapped[Dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    rest_seconds: Mapped[Optional[int]]

    prescription: Mapped[Prescription] = relationship(back_populates="movements")


class Practice(Base):
    __tablename__ = "practices"
    __table_args__ = (sa.Index("ix_practices_user_id_scheduled_for", "user_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    prescription_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey(Prescription.id, ondelete="SET NULL"))
    status: Mapped[PracticeStatus] = mapped_column(
        sa.Enum(
            PracticeStatus,
            name="practice_status",
            values_callable=lambda e: [m.value for m in e],
            schema=SCHEMA,
        ),
        server_default=PracticeStatus.PLANNED.value,
    )
    scheduled_for: Mapped[Optional[date]]
    started_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime(timezone=True))
    notes: Mapped[Optional[str]] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    prescription: Mapped[Optional[Prescription]] = relationship()
    sets: Mapped[List["Set"]] = relationship(back_populates="practice", passive_deletes=True)


class Set(Base):
    __tablename__ = "sets"
    __table_args__ = (sa.Index("ix_sets_practice_id", "practice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(sa.ForeignKey(Practice.id, ondelete="CASCADE"))
    prescribed_movement_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey(PrescribedMovement.id, ondelete="SET NULL"))
    movement_id: Mapped[int]
    set_number: Mapped[int] = mapped_column(sa.SmallInteger)
    reps: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    load_kg: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(6, 2))
    rpe: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(3, 1))
    # Free-form extras from trackers (tempo, heart rate, ...).
    metrics: Mapped[Optional[Dict[str, Any]]] = mapped_column(JSONB)
    performed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    practice: Mapped[Practice] = relationship(back_populates="sets")
