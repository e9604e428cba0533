"""The revision cache under .dbtasks/: the regular-expression scan agrees with the parser or steps aside, and a cached
entry is used only while the file's stat is unchanged (real files, real stat, real JSON on disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _support import REPO, declared_services, revisions_of

from dbtasks.files.graph_cache import FILE_NAME, GraphCache, read_entry, scan
from dbtasks.worker import revisions


def example_files() -> list[Path]:
    """Every migration file of the example services and of the layouts under examples/."""
    return sorted({*REPO.glob("services/*/*/versions/*.py"), *REPO.glob("examples/**/versions/*.py")})


def test_the_scan_reads_every_example_file_as_the_parser_does() -> None:
    files = example_files()
    assert len(files) > sum(len(revisions_of(name)) for name in declared_services())
    for path in files:
        values = revisions.module_constants(str(path))
        down = values["down_revision"]
        assert scan(path.read_text()) == (values["revision"], [down] if isinstance(down, str) else list(down or [])), path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"""Doc\n\nRevision ID: ab\nRevises: \n"""\nrevision = "ab"\ndown_revision = None\n', ("ab", [])),
        ("revision: str = 'ab'  # the id\ndown_revision: Union[str, Sequence[str], None] = ('x', 'y')\n", ("ab", ["x", "y"])),
        ("revision = 'ab'\ndown_revision = 'cd'\nbranch_labels = None\n", ("ab", ["cd"])),
    ],
)
def test_plain_assignments_are_scanned(text: str, expected: tuple[str, list[str]]) -> None:
    assert scan(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '"""\nrevision = "fake"\ndown_revision = None\n"""\nrevision = compute()\n',  # inside a docstring
        "revision = 'ab'\ndown_revision = (\n    'x',\n    'y',\n)\n",  # a value over several lines
        "revision = 'ab'; down_revision = None\n",  # two statements on one line
        "revision = 'ab'\ndown_revision = None\nrevision = 'cd'\n",  # assigned twice: the last one counts
        "revision = PREFIX + 'ab'\ndown_revision = None\n",  # not a literal
        "revision = 'ab'\n",  # no down_revision line
    ],
)
def test_anything_else_is_left_to_the_parser(text: str, tmp_path: Path) -> None:
    assert scan(text) is None
    path = tmp_path / "x.py"
    path.write_text(text)
    values = revisions.module_constants(str(path))
    entry = read_entry(str(path))
    if isinstance(values.get("revision"), str) and not isinstance(values.get("down_revision"), (list, dict)):
        down = values.get("down_revision")
        assert entry == (values["revision"], [down] if isinstance(down, str) else list(down or []))
    else:
        assert entry is None


def write_revision(folder: Path, name: str, revision: str, down: str | None) -> str:
    path = folder / f"{name}.py"
    path.write_text(f'"""{name}"""\nrevision = {revision!r}\ndown_revision = {down!r}\n')
    return str(path)


def test_a_cached_entry_is_used_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    versions, state = tmp_path / "versions", tmp_path / ".dbtasks"
    versions.mkdir()
    first = write_revision(versions, "a", "aaaa", None)
    second = write_revision(versions, "b", "bbbb", "aaaa")
    assert GraphCache(state).graph([first, second]) == {"aaaa": (first, []), "bbbb": (second, ["aaaa"])}

    cache = GraphCache(state)
    cache.save()
    assert not (state / FILE_NAME).exists()  # nothing read: nothing written
    assert cache.graph([first, second]) is not None
    cache.save()
    saved = json.loads((state / FILE_NAME).read_text())
    assert set(saved["files"]) == {first, second}
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"  # the folder it made ignores itself

    # The next run takes the entries from the file as long as the stat matches (proved by one the test altered).
    saved["files"][second][4] = "from-the-cache"
    (state / FILE_NAME).write_text(json.dumps(saved))
    assert set(GraphCache(state).graph([first, second]) or {}) == {"aaaa", "from-the-cache"}

    # An edit of the same size with the old modification time put back still changes ctime: the file is read again.
    info = os.stat(second)
    Path(second).write_text(Path(second).read_text().replace("bbbb", "cccc"))
    os.utime(second, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert os.stat(second).st_size == info.st_size and os.stat(second).st_mtime_ns == info.st_mtime_ns
    assert GraphCache(state).graph([first, second]) == {"aaaa": (first, []), "cccc": (second, ["aaaa"])}


def test_a_broken_cache_file_is_read_as_empty(tmp_path: Path) -> None:
    state = tmp_path / ".dbtasks"
    state.mkdir()
    (state / FILE_NAME).write_text("{not json")
    path = write_revision(tmp_path, "a", "aaaa", None)
    cache = GraphCache(state)
    assert cache.entries == {} and cache.graph([path]) == {"aaaa": (path, [])}
    cache.save()
    assert json.loads((state / FILE_NAME).read_text())["files"][path][4] == "aaaa"


def source(ini: Path, folder: Path, section: str = "alembic", toml: Path | None = None) -> dict[str, Any]:
    """Service.alembic_source of a service in `folder`."""
    return {"ini": str(ini), "cwd": str(folder), "section": section, "toml": str(toml) if toml else None}


def test_a_pyproject_environment_and_a_named_section_are_located_like_alembic_reads_them(tmp_path: Path) -> None:
    """[tool.alembic] (Alembic >= 1.16) is read after the ini's section, with %(here)s and a version_locations list;
    a named section is read instead of [alembic]; the located memo keeps them apart."""
    (tmp_path / "mig" / "versions").mkdir(parents=True)
    (tmp_path / "other" / "versions").mkdir(parents=True)
    toml, ini = tmp_path / "pyproject.toml", tmp_path / "alembic.ini"
    toml.write_text('[tool.alembic]\nscript_location = "%(here)s/mig"\nversion_locations = ["mig/versions", "other/versions"]\n')
    first = write_revision(tmp_path / "mig" / "versions", "a", "aaaa", None)
    second = write_revision(tmp_path / "other" / "versions", "b", "bbbb", "aaaa")
    for folder in ("mig", "other"):
        (tmp_path / folder / "env.py").write_text("context.configure(connection=connection)\n")
    cache = GraphCache(None)
    found = cache.located(source(ini, tmp_path, toml=toml))  # no alembic.ini at all
    assert found is not None and sorted(found[0]) == [first, second] and found[1] == str(tmp_path / "mig" / "env.py")
    ini.write_text("[alembic]\nscript_location = mig\n\n[static]\nscript_location = other\n")
    assert cache.located(source(ini, tmp_path, "static")) == ([second], str(tmp_path / "other" / "env.py"), False)
    assert cache.located(source(ini, tmp_path)) == ([first], str(tmp_path / "mig" / "env.py"), False)
    assert cache.located(source(ini, tmp_path, "missing")) is None  # no such section: only Alembic can say why


def test_where_an_environment_keeps_its_files_is_remembered_only_while_nothing_changes(tmp_path: Path) -> None:
    """A fleet's members reuse one look at alembic.ini, env.py and the versions folder; a file added, removed or an
    env.py that starts naming its own version table is seen by the next look of the same cache."""
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    ini, env_py = tmp_path / "alembic.ini", tmp_path / "migrations" / "env.py"
    ini.write_text("[alembic]\nscript_location = migrations\n")
    env_py.write_text("context.configure(connection=connection)\n")
    first = write_revision(tmp_path / "migrations" / "versions", "a", "aaaa", None)
    cache = GraphCache(None)
    assert cache.located(source(ini, tmp_path)) == ([first], str(env_py), False)

    second = write_revision(tmp_path / "migrations" / "versions", "b", "bbbb", "aaaa")
    assert sorted(cache.located(source(ini, tmp_path))[0]) == [first, second]  # type: ignore[index]
    os.unlink(first)
    assert cache.located(source(ini, tmp_path)) == ([second], str(env_py), False)
    env_py.write_text("context.configure(connection=connection, version_table='habits_version')\n")
    assert cache.located(source(ini, tmp_path)) == ([second], str(env_py), True)
    ini.write_text("[alembic]\nscript_location = pkg:migrations\n")  # a package resource: only Alembic resolves it
    assert cache.located(source(ini, tmp_path)) is None


def test_where_an_environment_keeps_its_files_is_kept_for_the_next_run(tmp_path: Path) -> None:
    """The next run (a new cache object reading the file) takes the located memo while nothing changed, so a no-op
    reads no alembic.ini; a file added to the versions folder makes it look again."""
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    ini, env_py, state = tmp_path / "alembic.ini", tmp_path / "migrations" / "env.py", tmp_path / ".dbtasks"
    ini.write_text("[alembic]\nscript_location = migrations\n")
    env_py.write_text("context.configure(connection=connection)\n")
    first = write_revision(tmp_path / "migrations" / "versions", "a", "aaaa", None)
    cache = GraphCache(state)
    assert cache.located(source(ini, tmp_path)) == ([first], str(env_py), False)
    cache.save()
    saved = json.loads((state / FILE_NAME).read_text())
    assert list(saved["located"]) == [f"{ini}\n{tmp_path}\nalembic\n"]

    # Proved by an entry the test altered: the next run believes the file while every stat matches.
    saved["located"][f"{ini}\n{tmp_path}\nalembic\n"][1][0] = ["from-the-cache.py"]
    (state / FILE_NAME).write_text(json.dumps(saved))
    assert GraphCache(state).located(source(ini, tmp_path)) == (["from-the-cache.py"], str(env_py), False)
    second = write_revision(tmp_path / "migrations" / "versions", "b", "bbbb", "aaaa")
    assert sorted(GraphCache(state).located(source(ini, tmp_path))[0]) == [first, second]  # type: ignore[index]
