"""migrations.yaml's cache under .dbtasks/: the cached Project is the one config.load() makes, it is used only while
every file the validation read is unchanged, and a migrations.yaml holding what may be a secret is never written
(real files, real stat, real JSON on disk; the YAML parser's absence is checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _support import REPO, copy_project, replace_once

from dbtasks import config
from dbtasks.config import cache as config_cache
from dbtasks.errors import ConfigError

CACHE = Path(".dbtasks") / config_cache.FILE_NAME


@pytest.mark.parametrize("file", ["migrations.yaml", "examples/layouts/migrations.yaml", "examples/tenants/migrations.yaml"])
def test_every_example_project_comes_back_from_the_cache_as_load_makes_it(file: str) -> None:
    project = config.load(REPO / file)
    encoded = json.loads(json.dumps(config_cache.encode(project)))  # through JSON text, as the file keeps it
    assert config_cache.decode(encoded) == project
    assert config_cache.decode(encoded).services == project.services


def test_a_second_load_comes_from_the_cache_without_the_yaml_parser(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    first = config_cache.load(root / "migrations.yaml")
    assert first == config.load(root / "migrations.yaml")
    saved = json.loads((root / CACHE).read_text())
    assert list(saved["projects"]) == [str((root / "migrations.yaml").resolve())]
    assert oct((root / CACHE).stat().st_mode & 0o777) == "0o600"

    script = (
        "import sys; from pathlib import Path; from dbtasks.config import cache as config_cache; "
        f"project = config_cache.load(Path({str(root / 'migrations.yaml')!r})); "
        "print(sorted(project.services), 'yaml' in sys.modules, 'dbtasks.config.loader' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    assert shown == f"{sorted(first.services)} False False"


def test_a_change_to_any_file_the_validation_read_is_seen_by_the_next_load(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    assert config_cache.load(file).services["habits"].schema == "habits"

    replace_once(file, "schema: habits", "schema: habits_v2")  # migrations.yaml itself
    assert config_cache.load(file).services["habits"].schema == "habits_v2"

    assert config_cache.load(file).services["users"].version_table is None  # env.py computes it: the worker reads it

    layouts = tmp_path / "layouts"  # env.py, where a literal version table is looked up
    shutil.copytree(REPO / "examples" / "layouts", layouts, ignore=shutil.ignore_patterns("__pycache__"))
    assert config_cache.load(layouts / "migrations.yaml").services["plain_sync"].version_table == ("public", "alembic_version")
    env_py = layouts / "plain_sync" / "alembic" / "env.py"
    replace_once(
        env_py, "connection=connection, target_metadata=target_metadata", "connection=connection, version_table='plain_v'"
    )
    after = config_cache.load(layouts / "migrations.yaml").services["plain_sync"]
    assert (
        after.version_table == ("public", "plain_v") and after == config.load(layouts / "migrations.yaml").services["plain_sync"]
    )

    ini = next((root / "services" / "users").rglob("alembic.ini"))  # a service folder gone: the error, not the cache
    os.rename(ini, ini.with_name("moved.ini"))
    with pytest.raises(ConfigError, match=r"alembic\.ini does not exist"):
        config_cache.load(file)


def test_a_secret_in_migrations_yaml_is_never_written(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    replace_once(file, "    schema: habits\n", "    schema: habits\n    env:\n      API_TOKEN: s3cret-value\n")
    assert config_cache.load(file).services["habits"].env == {"API_TOKEN": "s3cret-value"}
    assert not (root / CACHE).exists()

    replace_once(file, "API_TOKEN: s3cret-value", "AUDIT_URL: postgresql://audit:hunter2@db/audit")
    assert config_cache.load(file).services["habits"].env["AUDIT_URL"].endswith("@db/audit")
    assert not (root / CACHE).exists()

    replace_once(file, "postgresql://audit:hunter2@db/audit", "postgresql://audit:${db.password}@db/audit")  # a placeholder
    config_cache.load(file)
    assert "${db.password}" in (root / CACHE).read_text()
    replace_once(file, "AUDIT_URL:", "AUDIT_PASSWORD: '${db.password}'\n      AUDIT_URL:")  # filled in at run time
    assert config_cache.load(file).services["habits"].env["AUDIT_PASSWORD"] == "${db.password}"
    assert "AUDIT_PASSWORD" in (root / CACHE).read_text()


@pytest.mark.parametrize(
    "value",
    [
        "DB_PW: hunter2",
        "ADMIN_PWD: hunter2",
        "AUDIT_DSN: 'host=db user=audit password=hunter2'",
        "AUDIT_URL: 'postgresql://audit@db/audit?sslmode=require&password=hunter2'",
    ],
)
def test_every_spelling_of_a_secret_keeps_the_file_out_of_the_cache(tmp_path: Path, value: str) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    replace_once(file, "    schema: habits\n", f"    schema: habits\n    env:\n      {value}\n")
    assert "hunter2" in str(config_cache.load(file).services["habits"].env)
    assert not (root / CACHE).exists()


def test_a_damaged_or_foreign_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    (root / ".dbtasks").mkdir()
    (root / CACHE).write_text("{not json")
    expected = config.load(file)
    assert config_cache.load(file) == expected
    saved = json.loads((root / CACHE).read_text())

    # A cache that names a class dbtasks does not cache is refused, not constructed.
    entry = saved["projects"][str(file.resolve())]
    entry["project"]["$class"] = "Path"
    (root / CACHE).write_text(json.dumps(saved))
    assert config_cache.load(file) == expected
    for damaged in ({"files": [["not", "a path"], None], "variables": {}}, {"files": "x"}, None):
        saved = json.loads((root / CACHE).read_text())
        saved["projects"][str(file.resolve())]["inputs"] = damaged
        (root / CACHE).write_text(json.dumps(saved))
        assert config_cache.load(file) == expected, damaged


def test_an_invalid_migrations_yaml_is_not_cached(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    replace_once(file, "version: 1", "version: 2")
    with pytest.raises(ConfigError, match="expected 1"):
        config_cache.load(file)
    assert not (root / CACHE).exists()


def test_an_entry_edited_by_hand_is_never_trusted(tmp_path: Path) -> None:
    """The cache can only make a run faster: an entry changed after it was written (here a schema, as an attacker would
    turn a protected environment off) does not verify, and the file is validated again."""
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    expected = config_cache.load(file)
    saved = json.loads((root / CACHE).read_text())
    assert set(saved["projects"][str(file.resolve())]) == {"inputs", "project", "seal"}
    tampered = (root / CACHE).read_text().replace('"habits"', '"evil"')
    assert tampered != (root / CACHE).read_text()
    (root / CACHE).write_text(tampered)
    assert config_cache.load(file) == expected
    assert '"evil"' not in (root / CACHE).read_text()  # rebuilt from the file


def test_an_entry_sealed_with_another_key_is_never_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_project(tmp_path / "repo")
    file = root / "migrations.yaml"
    monkeypatch.setenv("DBTASKS_CACHE_KEY_FILE", str(tmp_path / "elsewhere" / "key"))
    config_cache.load(file)
    written = (root / CACHE).read_text()
    monkeypatch.setenv("DBTASKS_CACHE_KEY_FILE", str(tmp_path / "here" / "key"))  # another user's, another machine's
    config_cache.load(file)
    assert (root / CACHE).read_text() != written  # not taken: validated and sealed again with this key
    assert oct((tmp_path / "here" / "key").stat().st_mode & 0o777) == "0o600"
