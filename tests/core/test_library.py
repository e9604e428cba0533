"""The core as a library: what docs/library.md shows a deploy script doing, against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from _support import declared_services, head_of, tables, version

from dbtasks import config, verbs, verbs_all
from dbtasks.errors import RunFailed, UsageError
from dbtasks.orchestrate import Selection
from dbtasks.session import Session


def session_for(project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> Session:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return Session(config.load(project / "migrations.yaml"), emit=lines.append)


def test_upgrade_all_returns_a_report_and_changes_the_database(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    session = session_for(project, database_url, monkeypatch, lines)
    report = verbs_all.upgrade_all(session, Selection(exclude=("journal",), jobs=2))
    assert report.ok and report.failure is None
    assert [o.service for o in report.outcomes] == [name for name in declared_services() if name != "journal"]
    assert all(o.state == "ok" and o.detail.startswith("base -> ") for o in report.outcomes), report.outcomes
    for outcome in report.outcomes:
        assert version(database_url, outcome.service) == [head_of(outcome.service)]
    assert version(database_url, "journal") == [] and not tables(database_url, "journal")
    assert any(line.startswith("users | ") for line in lines)  # Alembic's own lines, prefixed by service
    assert verbs.status(session, session.service("habits"))["state"] == "up to date"
    assert verbs.status(session, session.service("journal"))["state"] == "not initialized"


def test_a_failed_run_carries_its_verdict_and_exit_code(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = session_for(project, database_url, monkeypatch, [])
    report = verbs_all.upgrade_all(session, Selection(only=("meals",), jobs=1))  # meals needs users.users (a foreign key)
    assert not report.ok
    assert report.outcomes[0].state == "failed" and "users" in report.outcomes[0].detail
    with pytest.raises(RunFailed, match=r"^failed: meals$") as raised:
        report.raise_for_failure()
    assert raised.value.exit_code == 1
    assert head_of("meals") == "0003"  # the migration that adds the foreign key
    assert version(database_url, "meals") == ["0002"]  # the earlier migrations stay applied


def test_destructive_verbs_refuse_without_yes_and_change_nothing(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = session_for(project, database_url, monkeypatch, [])
    verbs.upgrade(session, session.service("movements"))
    with pytest.raises(UsageError, match=r"^movements: downgrade to -1 .*rerun with --yes to confirm$") as raised:
        verbs.downgrade(session, session.service("movements"))
    assert raised.value.exit_code == 2
    assert version(database_url, "movements") == [head_of("movements")]


def test_a_plan_is_resolved_once_and_is_what_the_run_uses(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[str] = []
    session = session_for(project, database_url, monkeypatch, [])
    session.announce, session.verbose = announced.append, True
    plan = session.plan([session.service(name) for name in ("practices", "users", "movements")])
    assert plan.names == ["practices", "users", "movements"]
    assert plan.waits_for() == {"practices": {"users", "movements"}, "users": set(), "movements": set()}
    step = plan.steps["practices"]
    assert (step.target.url, step.version_table, step.schemas, step.lock) == (
        database_url,
        ("practices", "alembic_version"),
        ("practices",),
        "practices",
    )
    assert session.step(session.service("practices")) is step  # what Session.run and Session.locked read
    assert [line for line in announced if line.startswith("plan: ")] == plan.lines() and len(plan.lines()) == 3
    report = verbs_all.upgrade_all(session, Selection(only=("practices", "users", "movements"), jobs=3))
    assert [outcome.state for outcome in report.outcomes] == ["ok", "ok", "ok"], report.outcomes
    assert version(database_url, "practices") == [head_of("practices")]
