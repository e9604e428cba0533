"""SQLAlchemy models of the movements catalogue; every table lives in ``movements``."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "movements"

# Deterministic constraint names, so migrations can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Enum types inherit this schema too, so nothing lands in "public".
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class MovementPattern(enum.StrEnum):
    PUSH = "push"
    PULL = "pull"
    SQUAT = "squat"
    HINGE = "hinge"
    LUNGE = "lunge"
    CARRY = "carry"
    ROTATION = "rotation"


class BodyRegion(enum.StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    CORE = "core"


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    # Store the lowercase values, not the Python member names.
    return [member.value for member in enum_cls]


exercise_muscle_groups = sa.Table(
    "exercise_muscle_groups",
    Base.metadata,
    sa.Column(
        "exercise_id",
        sa.ForeignKey("exercises.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "muscle_group_id",
        sa.ForeignKey("muscle_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.text("true")),
)


class MuscleGroup(Base):
    __tablename__ = "muscle_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    region: Mapped[BodyRegion] = mapped_column(sa.Enum(BodyRegion, name="body_region", values_callable=_values))


class Movement(Base):
    __tablename__ = "movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    pattern: Mapped[MovementPattern] = mapped_column(sa.Enum(MovementPattern, name="movement_pattern", values_callable=_values))
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    exercises: Mapped[list["Exercise"]] = relationship(back_populates="movement")


class Exercise(Base):
    __tablename__ = "exercises"
    __table_args__ = (sa.Index("ix_exercises_movement_id", "movement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    movement_id: Mapped[int] = mapped_column(sa.ForeignKey(Movement.id, ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # e.g. ["barbell", "rack"]
    equipment: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    media: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    movement: Mapped[Movement] = relationship(back_populates="exercises")
    muscle_groups: Mapped[list[MuscleGroup]] = relationship(secondary=exercise_muscle_groups)
