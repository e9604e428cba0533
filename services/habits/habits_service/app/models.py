"""SQLAlchemy models of the habits service; every table lives in ``habits``."""

import enum
import uuid
from datetime import date, datetime
from typing import Any, Dict, List, Optional, Type

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "habits"

# Deterministic constraint names, so migrations can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Tables get this schema. Each sa.Enum names it too (schema=SCHEMA): SQLAlchemy 2.1 passes
    # MetaData.schema on to enum types, 2.0 does not, and nothing may land in "public".
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class HabitFrequency(str, enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class TrackingStatus(str, enum.Enum):
    DONE = "done"
    SKIPPED = "skipped"
    MISSED = "missed"


def _values(enum_cls: Type[enum.Enum]) -> List[str]:
    # Store the lowercase values, not the Python member names.
    return [member.value for member in enum_cls]


class ProgramTemplate(Base):
    __tablename__ = "program_templates"
    __table_args__ = (
        sa.Index(
            "ix_program_templates_live_owner",
            "owner_id",
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL owner = built-in template; otherwise a user id from the users service.
    owner_id: Mapped[Optional[uuid.UUID]] = mapped_column(sa.Uuid)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[Optional[str]] = mapped_column(sa.Text)
    structure: Mapped[Dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    is_public: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    deleted_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime(timezone=True))

    habits: Mapped[List["Habit"]] = relationship(back_populates="template")


class Habit(Base):
    __tablename__ = "habits"
    __table_args__ = (sa.Index("ix_habits_user_id_is_active", "user_id", "is_active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    program_template_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey(ProgramTemplate.id, ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(120))
    frequency: Mapped[HabitFrequency] = mapped_column(
        sa.Enum(HabitFrequency, name="habit_frequency", values_callable=_values, schema=SCHEMA),
        server_default=HabitFrequency.DAILY.value,
    )
    reminder: Mapped[Optional[Dict[str, Any]]] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    template: Mapped[Optional[ProgramTemplate]] = relationship(back_populates="habits")
    tracking: Mapped[List["HabitTracking"]] = relationship(back_populates="habit", passive_deletes=True)


class HabitTracking(Base):
    __tablename__ = "habit_tracking"
    __table_args__ = (sa.UniqueConstraint("habit_id", "tracked_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    habit_id: Mapped[int] = mapped_column(sa.ForeignKey(Habit.id, ondelete="CASCADE"))
    tracked_on: Mapped[date] = mapped_column(server_default=sa.func.current_date())
    status: Mapped[TrackingStatus] = mapped_column(
        sa.Enum(TrackingStatus, name="tracking_status", values_callable=_values, schema=SCHEMA)
    )
    note: Mapped[Optional[str]] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    habit: Mapped[Habit] = relationship(back_populates="tracking")
