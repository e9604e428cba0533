"""`dbtasks init` finds where a service's own packages live when its folder is not enough, as its developers' tools
do, and writes `pythonpath:`: a src layout, and a Poetry `packages` entry pulling a shared package from
`from = "../../libs"`. Then `inv db.upgrade-all` and `inv db.check-all` work with init's file unchanged (check-all
imports the models through env.py). A name found nowhere is one printed line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from _support import TABLE_MIGRATION, assert_ok, inv, query, show, summary_states

MODELS = """import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class {cls}(Base):
    __tablename__ = "{table}"
    id = sa.Column(sa.Integer, primary_key=True)
    body = sa.Column(sa.Text)
"""
SERVICES = {  # folder: (the line env.py imports its models with, revision)
    "notes": ("from notes_app.models import Base", "a0000000e001"),
    "events": ("from shared.events import Base", "b0000000e001"),
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def monorepo(root: Path) -> None:
    alembic = Path(sys.executable).with_name("alembic")
    for folder, (line, revision) in SERVICES.items():
        service = root / "services" / folder
        service.mkdir(parents=True)
        subprocess.run([str(alembic), "init", "alembic"], cwd=service, check=True, capture_output=True)
        env_py = service / "alembic" / "env.py"
        text = env_py.read_text(encoding="utf-8").replace("target_metadata = None", f"{line}\n\ntarget_metadata = Base.metadata")
        write(
            env_py,
            text.replace(
                "config = context.config",
                'config = context.config\nconfig.set_main_option("sqlalchemy.url", __import__("os").environ["DATABASE_URL"])',
            ),
        )
        write(
            service / "alembic" / "versions" / f"{revision}_{folder}.py", TABLE_MIGRATION.format(table=folder, revision=revision)
        )
    notes = root / "services" / "notes"
    write(notes / "src" / "notes_app" / "__init__.py", "")
    write(notes / "src" / "notes_app" / "models.py", MODELS.format(cls="Note", table="notes"))
    events = root / "services" / "events"
    write(events / "events_app" / "__init__.py", "")
    write(root / "libs" / "shared" / "__init__.py", "")
    write(root / "libs" / "shared" / "events.py", MODELS.format(cls="Event", table="events"))
    write(
        events / "pyproject.toml",
        '[tool.poetry]\nname = "events"\npackages = [{include = "events_app"}, {include = "shared", from = "../../libs"}]\n',
    )


def init(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dbtasks", "init", *args], cwd=root, env=environment, capture_output=True, text=True, check=False
    )


def test_init_writes_the_pythonpath_of_a_src_layout_and_a_poetry_shared_package(
    tmp_path: Path, database_url: str, make_database: Callable[[], str]
) -> None:
    root = tmp_path / "mono"
    monorepo(root)
    written = init(root)
    assert written.returncode == 0 and written.stderr == "", show(written)
    text = (root / "migrations.yaml").read_text(encoding="utf-8")
    assert "  notes:\n    path: services/notes\n" in text, text
    assert "    pythonpath: [src]   # where the packages env.py imports live\n" in text, text
    assert "    pythonpath: [../../libs]   # where the packages env.py imports live\n" in text, text
    assert "env.py imports" not in written.stdout, show(written)
    own = {folder: make_database() for folder in SERVICES}  # each keeps public.alembic_version: a database each
    for folder, url in own.items():
        text = text.replace(f"    database: {folder}\n", f"    database: {url.rsplit('/', 1)[1]}\n")
    (root / "migrations.yaml").write_text(text, encoding="utf-8")  # the names init asked for; nothing else
    upgraded = assert_ok(inv(root, "db.upgrade-all", url=database_url))
    assert summary_states(upgraded) == {
        folder: ("ok", f"base -> {revision} (1 migration)") for folder, (_, revision) in SERVICES.items()
    }, show(upgraded)
    checked = assert_ok(inv(root, "db.check-all", url=database_url))  # env.py imported the models: they match
    assert checked.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped", show(checked)
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    assert {folder: [row[0] for row in query(url, tables)] for folder, url in own.items()} == {
        "notes": ["notes"],
        "events": ["events"],
    }


def test_a_package_found_nowhere_is_one_line_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    monorepo(root)
    (root / "libs" / "shared" / "events.py").rename(root / "libs" / "shared" / "moved.py")
    (root / "libs" / "shared").rename(root / "libs" / "common")
    dry = init(root, "--dry-run")
    assert dry.returncode == 0, show(dry)
    assert (
        "services/events: env.py imports shared, which init found neither in the repository nor installed for the "
        "interpreter that will run it; install it there, or add the folder holding it to services.events.pythonpath"
    ) in dry.stderr.splitlines(), show(dry)
    assert "pythonpath: [src]" in dry.stdout and "../../libs" not in dry.stdout, show(dry)
