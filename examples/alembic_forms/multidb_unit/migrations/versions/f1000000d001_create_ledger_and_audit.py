"""create ledger and audit

Revision ID: f1000000d001
Revises: 
Create Date: 2026-12-07 01:26:25.712293

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f1000000d001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade(engine_name: str) -> None:
    """Upgrade schema."""
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name: str) -> None:
    """Downgrade schema."""
    globals()["downgrade_%s" % engine_name]()





def upgrade_engine1() -> None:
    """Upgrade engine1 schema."""
    op.create_table("ledger", sa.Column("id", sa.Integer, primary_key=True), sa.Column("amount", sa.Numeric(12, 2)))


def downgrade_engine1() -> None:
    """Downgrade engine1 schema."""
    op.drop_table("ledger")


def upgrade_engine2() -> None:
    """Upgrade engine2 schema."""
    op.create_table("audit_trail", sa.Column("id", sa.Integer, primary_key=True), sa.Column("what", sa.Text))


def downgrade_engine2() -> None:
    """Downgrade engine2 schema."""
    op.drop_table("audit_trail")

