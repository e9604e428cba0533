"""A fleet from Python, as docs/library.md shows: fanout.over_fleet with a verbs_all verb."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from _support import execute, head_of, version

from dbtasks import config, verbs_all
from dbtasks.errors import RunFailed
from dbtasks.fleet import fanout
from dbtasks.fleet.shard import Shard
from dbtasks.orchestrate import Selection
from dbtasks.session import Session


def test_over_fleet_upgrades_every_member_and_reports(
    project: Path, make_database: Callable[[], str], pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [make_database() for _ in range(3)]
    names = [url.rsplit("/", 1)[1] for url in urls]
    with (project / "migrations.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"targets:\n  tenants:\n    services: [movements]\n    databases: [{', '.join(names)}]\n")
    execute(urls[1], "CREATE SCHEMA movements", "CREATE TABLE movements.movements (id int)")
    monkeypatch.setenv("DATABASE_URL", pg_server)
    lines: list[str] = []
    session = Session(config.load(project / "migrations.yaml"), emit=lines.append)
    seen: list[tuple[str, int, int]] = []

    report = fanout.over_fleet(
        session,
        fanout.Plan("tenants", jobs=2),
        verbs_all.upgrade_all,
        Selection(),
        on_done=lambda outcome, done, total: seen.append((outcome.target, done, total)),
    )
    assert report.counts == {"ok": 2, "failed": 1}
    assert [outcome.target for outcome in report.unfinished] == [names[1]]
    assert report.unfinished[0].detail.startswith("movements: migration "), report.unfinished[0].detail
    assert sorted(done for _, done, _ in seen) == [1, 2, 3] and {total for _, _, total in seen} == {3}
    assert any(line.startswith(f"{names[0]}/movements | ") for line in lines)  # Alembic's lines, by member and service
    with pytest.raises(RunFailed) as raised:
        report.raise_for_failure()
    assert str(raised.value) == (
        f"tenants: 1 of 3 targets failed or did not start ({names[1]}); see the outcomes, and rerun with "
        "--retry-failed REPORT (a --json report) to redo only those"
    )
    assert [version(url, "movements") for url in urls] == [[head_of("movements")], [], [head_of("movements")]]

    execute(urls[1], "DROP TABLE movements.movements")
    again = fanout.over_fleet(
        session, fanout.Plan("tenants", retry=frozenset(o.target for o in report.unfinished)), verbs_all.upgrade_all, Selection()
    )
    assert [(outcome.target, outcome.state) for outcome in again.outcomes] == [(names[1], "ok")]
    assert version(urls[1], "movements") == [head_of("movements")]

    share = fanout.over_fleet(session, fanout.Plan("tenants", shard=Shard(1, 2)), verbs_all.status_all, Selection())
    assert [outcome.target for outcome in share.outcomes] == [name for name in names if Shard(1, 2).holds(name)]
    assert share.shard == "1/2"
