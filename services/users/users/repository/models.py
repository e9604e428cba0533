"""SQLAlchemy models of the users service.

Other services refer to ``users.users.id`` (a UUID). Most keep it as a plain
column; ``meals.meals.user_id`` is a foreign key to it (meals revision 0003),
so meals is migrated after users and downgraded before it.
"""

import enum
import uuid
from datetime import datetime
from typing import Any, Dict, List, Optional, Type

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from users.repository.database import SCHEMA, Base


class RoleName(str, enum.Enum):
    MEMBER = "member"
    COACH = "coach"
    ADMIN = "admin"


class UnitSystem(str, enum.Enum):
    METRIC = "metric"
    IMPERIAL = "imperial"


def _values(enum_cls: Type[enum.Enum]) -> List[str]:
    # Store the lowercase values, not the Python member names.
    return [member.value for member in enum_cls]


class User(Base):
    __tablename__ = "users"
    # The app stores emails lower-cased, so a plain unique index is enough.
    __table_args__ = (sa.Index("ix_users_email", "email", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, server_default=sa.text("gen_random_uuid()"))
    email: Mapped[str] = mapped_column(sa.String(320))
    display_name: Mapped[Optional[str]] = mapped_column(sa.String(120))
    is_active: Mapped[bool] = mapped_column(server_default=sa.text("true"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now())

    roles: Mapped[List["UserRole"]] = relationship(back_populates="user", passive_deletes=True)
    settings: Mapped[Optional["UserSettings"]] = relationship(back_populates="user", passive_deletes=True)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey(User.id, ondelete="CASCADE"), primary_key=True)
    role: Mapped[RoleName] = mapped_column(
        sa.Enum(RoleName, name="role_name", values_callable=_values, schema=SCHEMA), primary_key=True
    )
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    user: Mapped[User] = relationship(back_populates="roles")


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey(User.id, ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), server_default="UTC")
    units: Mapped[UnitSystem] = mapped_column(
        sa.Enum(UnitSystem, name="unit_system", values_callable=_values, schema=SCHEMA),
        server_default=UnitSystem.METRIC.value,
    )
    # Notification and UI preferences; shape owned by the frontend.
    preferences: Mapped[Dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now())

    user: Mapped[User] = relationship(back_populates="settings")
