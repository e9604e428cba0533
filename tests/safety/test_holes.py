"""Holes found under attack (issue 12): each input gives one line and a non-zero exit, never a traceback,
never a password, and changes nothing in the database.

Everything runs through `inv` against a real PostgreSQL server, as in test_safety.py."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from conftest import assert_bad_input, head_of, inv, output, plant_migration, show, snapshot
from safety_helpers import files_under, leaks, role_with_password

# == 3. a password with every character a URL parser misreads ===================================================

# Each character URL parsers treat specially, and a non-ASCII one; 'Hole3' is the fragment scanned for too.
NASTY = "a%b/c#d?e@f:g h\u00e9-Hole3-Zz"
RAW_REFUSED = {"%": "%25", "/": "%2F", "#": "%23", "?": "%3F", "@": "%40", " ": "%20"}


def spellings(password: str) -> tuple[str, ...]:
    """Every way the password may be written: raw, percent-encoded (any hex case, + for space), as SQLAlchemy
    renders it, and a fragment that survives none of the encodings."""
    encoded = quote(password, safe="")
    return tuple(
        dict.fromkeys(
            [password, encoded, encoded.lower(), quote(password, safe=" +"), quote(password, safe=":"), "Hole3-Zz"]
            + [part for part in password.split("%") if len(part) > 3]
        )
    )


def with_password(url: str, user: str, password_in_url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}:{password_in_url}@{parts.hostname}:{parts.port}", parts.path, "", ""))


def scan(project: Path, results: list[subprocess.CompletedProcess[str]], secrets: tuple[str, ...]) -> list[str]:
    found = [f"{' '.join(result.args)}: {s}" for result in results for s in leaks(output(result), secrets)]
    found += [f"{path}: {s}" for path in files_under(project) for s in leaks(path.read_bytes(), secrets)]
    return found


TASKS = [("db.status",), ("db.upgrade-all",), ("db.verify", "habits"), ("db.doctor",)]


@pytest.mark.parametrize("char", list(RAW_REFUSED))
def test_a_raw_special_character_in_the_password_is_refused_without_showing_it(
    project: Path, database_url: str, char: str
) -> None:
    password = f"Hole3-Zz{char}Qz7tail{char}x"
    url = with_password(database_url, "app", password)
    before = snapshot(database_url)
    results = []
    for task in TASKS:
        result = inv(project, *task, url=url)
        results.append(result)
        code = 1 if task == ("db.doctor",) else 2
        if code == 2:
            line = assert_bad_input(result)
            assert line.startswith("DATABASE_URL: the password"), line
            assert RAW_REFUSED[char] in line, line
        else:  # doctor reports it as one error finding
            assert result.returncode == 1 and "Traceback" not in output(result), show(result)
            assert RAW_REFUSED[char] in result.stdout, show(result)
    assert not scan(project, results, (*spellings(password), "Qz7tail"))
    assert snapshot(database_url) == before
    assert not (project / ".dbtasks").exists()


# A failing migration that prints the URL as SQLAlchemy renders it (re-encoded) and quotes it in its error.
RENDERING_FAILURE = (
    "import os\n"
    "    from sqlalchemy.engine import make_url\n\n"
    "    rendered = make_url(os.environ['DATABASE_URL']).render_as_string(hide_password=False)\n"
    "    print('connecting to', rendered, make_url(os.environ['DATABASE_URL']).password)\n"
    "    raise RuntimeError('planted failure at ' + rendered)"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "in_url",
    [
        pytest.param(quote(NASTY, safe=""), id="percent-encoded"),
        pytest.param(quote(NASTY, safe=":\u00e9"), id="raw-colon-non-ascii"),
    ],
)
def test_a_password_with_every_special_character_never_shows(project: Path, pg_server: str, in_url: str) -> None:
    results: list[subprocess.CompletedProcess[str]] = []
    with role_with_password(pg_server, NASTY, in_url) as owner:
        url, _admin = owner.database()

        def run(*task: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            result = inv(project, *task, url=url)
            results.append(result)
            assert result.returncode == code and "Traceback" not in output(result), show(result)
            return result

        run("db.status")
        run("db.upgrade-all")
        run("db.verify", "habits")
        run("db.doctor")
        plant_migration(project, "movements", "1eac0000beef", head_of("movements"), body=RENDERING_FAILURE)
        failed = run("db.upgrade", "movements", code=1)
        assert "planted failure at" in output(failed) and "***" in output(failed), show(failed)
        run("db.status")
    assert not scan(project, results, (*spellings(NASTY), in_url))
