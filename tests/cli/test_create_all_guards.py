"""doctor's environment guards: create_all() in a service's own code only under an environment check."""

from __future__ import annotations

import json
from pathlib import Path

from _support import assert_ok, inv

from dbtasks.doctor.guards import create_all_calls

UNGUARDED = """from sqlalchemy.ext.asyncio import create_async_engine

from .models import Base


async def init_db(engine):
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
"""
GUARDED = """import os

from .models import Base


async def init_db(engine):
    if os.getenv("ENVIRONMENT", "development") == "development":
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        print("production: use the migrations")
"""
IN_ELSE = """from .config import settings
from .models import Base


def init_db(engine):
    if settings.environment == "development":
        pass
    else:
        Base.metadata.create_all(engine)
"""


def plant(project: Path, text: str) -> Path:
    path = project / "services" / "habits" / "habits_service" / "app" / "database.py"
    path.write_text(text)
    return path


def doctor_messages(project: Path, url: str) -> list[str]:
    found = json.loads(assert_ok(inv(project, "db.doctor", "--json", url=url)).stdout)["findings"]
    return [f"{item['level']} {item['message']}" for item in found if item["subject"] == "habits"]


def test_doctor_names_an_unguarded_create_all_with_its_file_and_line(project: Path, database_url: str) -> None:
    plant(project, UNGUARDED)
    messages = [m for m in doctor_messages(project, database_url) if "create_all" in m]
    assert len(messages) == 1, messages
    assert messages[0].startswith("warning ") and "habits_service/app/database.py:8: metadata.create_all()" in messages[0]
    assert "inv db.upgrade habits" in messages[0] and 'os.getenv("ENVIRONMENT", "development")' in messages[0]


def test_doctor_stays_quiet_on_a_guarded_create_all(project: Path, database_url: str) -> None:
    plant(project, GUARDED)
    messages = [m for m in doctor_messages(project, database_url) if "create_all" in m]
    assert messages == ["ok create_all() only under an environment check (1 found)"], messages


def test_the_scan_reads_files_without_importing_them(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text(UNGUARDED)
    (tmp_path / "app" / "b.py").write_text(GUARDED)
    (tmp_path / "app" / "c.py").write_text(IN_ELSE)
    (tmp_path / "app" / "broken.py").write_text("def (:\n")
    (tmp_path / "alembic" / "versions").mkdir(parents=True)
    (tmp_path / "alembic" / "env.py").write_text("raise SystemExit('imported!')\nBase.metadata.create_all(bind)\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("Base.metadata.create_all(engine)\n")
    found = [(call.path.name, call.line, call.guarded) for call in create_all_calls(tmp_path, tmp_path / "alembic")]
    assert found == [("a.py", 8, False), ("b.py", 9, True), ("c.py", 9, False)]
