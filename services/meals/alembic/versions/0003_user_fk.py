"""user fk

meals.user_id now references users.users.id, a table of the users service:
deleting a user deletes their meals. The users service must be at head first,
which is why migrations.yaml lists it in meals' depends_on. Rows whose user_id
matches no user make the upgrade fail; clean them up before upgrading.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 03:54:03.404776

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "meals"
# Owned and migrated by the users service; only referenced from here.
USERS_SCHEMA = "users"


def upgrade() -> None:
    """Upgrade schema."""
    if not context.is_offline_mode() and not sa.inspect(op.get_bind()).has_table("users", schema=USERS_SCHEMA):
        raise RuntimeError(
            f"{USERS_SCHEMA}.users does not exist: upgrade the users service first (inv db.upgrade users, or inv db.upgrade-all)"
        )
    # lint: ignore[adding-foreign-key-constraint, constraint-missing-not-valid] -- example service: meals holds a few test rows, and the scan is what finds the orphans the docstring names; on a big table, add it NOT VALID and VALIDATE it in a later revision
    op.create_foreign_key(
        op.f("fk_meals_user_id_users"),
        "meals",
        "users",
        ["user_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=USERS_SCHEMA,
        ondelete="CASCADE",
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_constraint(op.f("fk_meals_user_id_users"), "meals", schema=SCHEMA, type_="foreignkey")
