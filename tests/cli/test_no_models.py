"""A service with hand-written migrations only (`target_metadata = None` in env.py): check and verify's drift
say there is nothing to compare instead of failing, and generate asks for --empty."""

from __future__ import annotations

import json
from pathlib import Path

from _support import assert_failure, assert_ok, head_of, inv, replace_once, version, version_files

ENV_PY = Path("services/movements/alembic/env.py")


def without_models(project: Path) -> None:
    replace_once(project / ENV_PY, "target_metadata = Base.metadata", "target_metadata = None")


def test_check_and_check_all_skip_the_comparison(project: Path, database_url: str) -> None:
    without_models(project)
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    checked = assert_ok(inv(project, "db.check", "movements", url=database_url))
    assert checked.stdout.strip() == (
        f"movements: OK (head {head_of('movements')}, database at head, no models to compare: env.py has no target_metadata)"
    )
    report = json.loads(assert_ok(inv(project, "db.check-all", "--only", "movements", "--json", url=database_url)).stdout)
    assert report["services"] == [
        {
            "service": "movements",
            "ok": True,
            "differences": [],
            "skipped": "env.py has no target_metadata",
            "checksums": {"edited": [], "missing": [], "unknown": []},
        }
    ]
    table = assert_ok(inv(project, "db.check-all", "--only", "movements", url=database_url))
    assert "no models to compare (env.py has no target_metadata)" in table.stdout


def test_generate_asks_for_empty_and_writes_nothing(project: Path, database_url: str) -> None:
    without_models(project)
    assert_ok(inv(project, "db.upgrade", "movements", url=database_url))
    before = version_files(project, "movements")
    line = assert_failure(inv(project, "db.generate", "movements", "-m", "add a column", url=database_url), "movements")
    assert line == (
        "movements: env.py passes no target_metadata, so there are no models to generate from; write the migration "
        'by hand: inv db.generate movements -m "..." --empty'
    )
    assert version_files(project, "movements") == before
    assert_ok(inv(project, "db.generate", "movements", "-m", "by hand", "--empty", url=database_url))
    assert len(version_files(project, "movements") - before) == 1
    assert version(database_url, "movements") == [head_of("movements")]


def test_verify_skips_drift_and_passes_the_rest(project: Path, database_url: str) -> None:
    without_models(project)
    result = assert_ok(inv(project, "db.verify", "movements", "--json", url=database_url))
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["drift"] == {"name": "drift", "ok": None, "detail": "skipped: env.py has no target_metadata"}
    assert all(check["ok"] for name, check in checks.items() if name not in ("drift",)), checks
