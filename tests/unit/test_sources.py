"""What dbtasks reads from a service's sources without running them, and the ownership rule built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtasks.worker import sources
from dbtasks.worker.ownership import Ownership

UNKNOWN = sources.UNKNOWN


@pytest.mark.parametrize(
    ("text", "table", "schema"),
    [
        ('context.configure(url=u, version_table="v_b")\ncontext.configure(connection=c, version_table="v_b")\n', "v_b", None),
        ('X = "s"\ncontext.configure(version_table_schema=X)\n', None, "s"),
        ("context.configure(version_table_schema=settings.schema)\n", None, UNKNOWN),
        ('# version_table="nope"\ncontext.configure(connection=c)\n', None, None),
        ('context.configure(**opts, version_table="x")\n', UNKNOWN, UNKNOWN),
        ('context.configure(version_table="a")\ncontext.configure(version_table="b")\n', UNKNOWN, None),
        ("context.configure(connection=c)\n", None, None),
        ("def broken(:\n  version_table = 1\n", UNKNOWN, UNKNOWN),
    ],
    ids=["literal", "constant", "computed", "comment", "double-star", "disagree", "none", "syntax-error"],
)
def test_version_table_as_env_py_passes_it(tmp_path: Path, text: str, table: str | None, schema: str | None) -> None:
    env_py = tmp_path / "env.py"
    env_py.write_text(text)
    assert sources.version_table_of(str(env_py)) == {"version_table": table, "version_table_schema": schema}


def test_tables_the_migrations_create(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        'def upgrade():\n    op.create_table("one", sa.Column("id", sa.Integer))\n'
        '    op.create_table("two", schema="audit")\n    op.execute("CREATE TABLE IF NOT EXISTS \\"three\\" (id int)")\n'
        '    op.execute("create table ledger.four (id int)")\n    op.create_table(name_of_table)\n'
    )
    (tmp_path / "b.py").write_text("this is not python(\n")
    found = sources.created_tables([str(tmp_path / "a.py"), str(tmp_path / "b.py"), str(tmp_path / "gone.py")], "public")
    assert found == {("public", "one"), ("audit", "two"), ("public", "three"), ("ledger", "four")}


def ownership(shared: bool) -> Ownership:
    request = {
        "schema": "public",
        "schemas": ["public", "audit"],
        "shared": ["public"] if shared else [],
        "version_table": ["public", "alembic_version_billing"],
        "foreign_version_tables": [["public", "alembic_version_accounts"]],
    }
    found = Ownership(request)
    found.tables |= {("public", "invoices")}
    return found


def test_a_schema_of_its_own_is_owned_whole() -> None:
    owner = ownership(shared=False)
    assert owner.owns("audit", "anything") and owner.owns("public", "accounts")
    assert not owner.owns("elsewhere", "invoices") and not owner.owns("public", "alembic_version_accounts")


def test_in_a_shared_schema_only_its_own_tables() -> None:
    owner = ownership(shared=True)
    assert owner.owns("public", "invoices") and owner.owns("public", "alembic_version_billing")
    assert not owner.owns("public", "accounts") and not owner.owns("public", "alembic_version_accounts")
    assert owner.owns("audit", "entry_log")  # its other schema is its own
    assert owner.owns_object("public", ("index", "invoices", "ix_invoices_amount"))
    assert not owner.owns_object("public", ("column", "accounts", "email"))
    assert owner.owns_object("public", ("sequence", None, "invoices_id_seq"))  # no owner to tell: counted as its own
