"""current, history and heads answered from the migration files and the catalog (no worker) where that is certain:
each compared with what Alembic itself says in a worker (DBTASKS_FASTPATH=0), against a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _support import declared_services, head_of, parent_of, plant_migration, replace_once, revisions_of, versions_folder

from dbtasks import config, fastpath, verbs
from dbtasks.errors import DbtasksError
from dbtasks.session import Session


def both_ways(project: Path, monkeypatch: pytest.MonkeyPatch, verb: Any, name: str) -> tuple[Any, Any]:
    """The verb's answer with the fast path, then Alembic's own in a worker."""
    answers = []
    for fast in ("1", "0"):
        monkeypatch.setenv("DBTASKS_FASTPATH", fast)
        session = Session(config.load(project / "migrations.yaml"), emit=lambda line: None)
        answers.append(verb(session, session.service(name)))
    return answers[0], answers[1]


@pytest.mark.parametrize("name", list(declared_services()))
def test_history_and_heads_from_the_files_are_alembics(project: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = config.load(project / "migrations.yaml").services[name]
    assert fastpath.files_history(service) is not None  # the examples' histories are one line: read from the files
    fast, alembic = both_ways(project, monkeypatch, verbs.history, name)
    assert fast == alembic and [rev["revision"] for rev in fast["revisions"]] == revisions_of(name)[::-1]
    assert both_ways(project, monkeypatch, verbs.heads, name) == ({"heads": [head_of(name)]}, {"heads": [head_of(name)]})


def test_a_branched_history_is_left_to_alembic(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = head_of("users")
    plant_migration(project, "users", "b1a000000001", head)
    plant_migration(project, "users", "b1a000000002", head)
    service = config.load(project / "migrations.yaml").services["users"]
    assert fastpath.files_history(service) is None
    fast, alembic = both_ways(project, monkeypatch, verbs.history, "users")
    assert fast == alembic and {rev["revision"] for rev in fast["revisions"] if rev["head"]} == {"b1a000000001", "b1a000000002"}
    assert both_ways(project, monkeypatch, verbs.heads, "users") == ({"heads": ["b1a000000001", "b1a000000002"]},) * 2


def test_current_from_the_catalog_is_alembics(project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    before = both_ways(project, monkeypatch, verbs.current, "habits")
    assert before == ({"current": [], "head": [head_of("habits")]},) * 2
    session = Session(config.load(project / "migrations.yaml"), emit=lambda line: None)
    verbs.upgrade(session, session.service("habits"), to=parent_of("habits", head_of("habits")) or "base")
    fast, alembic = both_ways(project, monkeypatch, verbs.current, "habits")
    assert fast == alembic == {"current": [parent_of("habits", head_of("habits"))], "head": [head_of("habits")]}


def test_a_down_revision_no_file_defines_is_said_by_alembic_not_a_crash(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain whose first file points below itself used to crash the fast path's count of pending revisions."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    session = Session(config.load(project / "migrations.yaml"), emit=lambda line: None)
    verbs.upgrade(session, session.service("users"))
    first = revisions_of("users")[0]
    (path,) = [
        path for path in versions_folder(project, "users").glob("*.py") if f'revision: str = "{first}"' in path.read_text()
    ]
    replace_once(path, "down_revision: Union[str, Sequence[str], None] = None", "down_revision = 'gone00000000'")
    session = Session(config.load(project / "migrations.yaml"), emit=lambda line: None)
    assert fastpath.file_graph(session.service("users")) is None
    with pytest.raises(DbtasksError, match=r"gone00000000"):
        verbs.status(session, session.service("users"))
