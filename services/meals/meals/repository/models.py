"""SQLAlchemy models of the meals service; every table it owns lives in ``meals``.

``meals.user_id`` references ``users.users.id`` (the users service's table) with a foreign key.
"""

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional, Type

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA = "meals"

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


class MealType(str, enum.Enum):
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"
    SNACK = "snack"


class NutriScore(str, enum.Enum):
    A = "a"
    B = "b"
    C = "c"
    D = "d"
    E = "e"


def _values(enum_cls: Type[enum.Enum]) -> List[str]:
    # Store the lowercase values, not the Python member names.
    return [member.value for member in enum_cls]


class Food(Base):
    __tablename__ = "foods"
    __table_args__ = (sa.Index("ix_foods_barcode", "barcode", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kcal_per_100g: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    protein_g: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(6, 2))
    carbs_g: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(6, 2))
    fat_g: Mapped[Optional[Decimal]] = mapped_column(sa.Numeric(6, 2))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    # Open Food Facts import (revision 0002); all optional for hand-made foods.
    barcode: Mapped[Optional[str]] = mapped_column(sa.String(32))
    brand: Mapped[Optional[str]] = mapped_column(sa.String(200))
    nutriments: Mapped[Optional[Dict[str, Any]]] = mapped_column(JSONB)
    nutri_score: Mapped[Optional[NutriScore]] = mapped_column(
        sa.Enum(NutriScore, name="nutri_score", values_callable=_values, schema=SCHEMA)
    )
    off_synced_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime(timezone=True))


# users.users belongs to the users service (migrated first: migrations.yaml lists it in meals'
# depends_on). Only its key is declared, so that Meal.user_id's foreign key resolves; dbtasks
# fences autogenerate to the meals schema, so this stub is never compared or migrated from here.
users_table = sa.Table("users", Base.metadata, sa.Column("id", sa.Uuid, primary_key=True), schema="users")


class Meal(Base):
    __tablename__ = "meals"
    __table_args__ = (sa.Index("ix_meals_user_id_eaten_at", "user_id", "eaten_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Revision 0003: a meal goes when its user does.
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(users_table.c.id, ondelete="CASCADE"))
    meal_type: Mapped[MealType] = mapped_column(sa.Enum(MealType, name="meal_type", values_callable=_values, schema=SCHEMA))
    eaten_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    notes: Mapped[Optional[str]] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    items: Mapped[List["MealItem"]] = relationship(back_populates="meal", passive_deletes=True)


class MealItem(Base):
    __tablename__ = "meal_items"
    __table_args__ = (sa.Index("ix_meal_items_meal_id", "meal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meal_id: Mapped[int] = mapped_column(sa.ForeignKey(Meal.id, ondelete="CASCADE"))
    food_id: Mapped[int] = mapped_column(sa.ForeignKey(Food.id, ondelete="RESTRICT"))
    quantity_g: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), server_default=sa.text("100"))

    meal: Mapped[Meal] = relationship(back_populates="items")
    food: Mapped[Food] = relationship()
