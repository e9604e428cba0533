"""SQLAlchemy models of the movements catalogue; every table lives in ``movements``."""

import enum
from datetime import datetime
from typing import Any, Dict, List, Optional, Type

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
    # Tables get this schema. Each sa.Enum names it too (schema=SCHEMA): SQLAlchemy 2.1 passes
    # MetaData.schema on to enum types, 2.0 does not, and nothing may land in "public".
    metadata = sa.MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


class MovementPattern(str, enum.Enum):
    PUSH = "push"
    PULL = "pull"
    SQUAT = "squat"
    HINGE = "hinge"
    LUNGE = "lunge"
    CARRY = "carry"
    ROTATION = "rotation"


class BodyRegion(str, enum.Enum):
    UPPER = "upper"
    LOWER = "lower"
    CORE = "core"


def _values(enum_cls: Type[enum.Enum]) -> List[str]:
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
    region: Mapped[BodyRegion] = mapped_column(sa.Enum(BodyRegion, name="body_region", values_callable=_values, schema=SCHEMA))


class Movement(Base):
    __tablename__ = "movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    pattern: Mapped[MovementPattern] = mapped_column(
        sa.Enum(MovementPattern, name="movement_pattern", values_callable=_values, schema=SCHEMA)
    )
    description: Mapped[Optional[str]] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    exercises: Mapped[List["Exercise"]] = relationship(back_populates="movement")


class Exercise(Base):
    __tablename__ = "exercises"
    __table_args__ = (sa.Index("ix_exercises_movement_id", "movement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    movement_id: Mapped[int] = mapped_column(sa.ForeignKey(Movement.id, ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # e.g. ["barbell", "rack"]
    equipment: Mapped[List[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    media: Mapped[Optional[Dict[str, Any]]] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    movement: Mapped[Movement] = relationship(back_populates="exercises")
    muscle_groups: Mapped[List[MuscleGroup]] = relationship(secondary=exercise_muscle_groups)
