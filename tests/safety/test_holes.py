"""Holes found under attack (issue 12): each input gives one line and a non-zero exit, never a traceback,
never a password, and changes nothing in the database.

Everything runs through `inv` against a real PostgreSQL server, as in test_safety.py."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from _support import (
    REPO,
    assert_bad_input,
    assert_failure,
    head_of,
    inv,
    local_database_made,
    output,
    plant_migration,
    replace_once,
    show,
    snapshot,
    version,
)
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
    assert not local_database_made(project)


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


# == 5. YAML bombs, and 7. files that are not UTF-8 ==============================================================


def billion_laughs() -> str:
    """The 567-byte kind: nine levels of nine aliases, 10^9 values once expanded."""
    levels = ['x-l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"x-l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(levels) + "\n"


def merge_bomb() -> str:
    """Merge keys that merge their predecessor twice, forty times over: 2^40 mappings to flatten."""
    levels = ["x-m0: &m0 {k: 1}"] + [f"x-m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}" for i in range(1, 41)]
    return "\n".join(levels) + "\n"


def prepend(text: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / "migrations.yaml"
        content = path.read_text(encoding="utf-8")
        assert content.count(old) == 1
        path.write_text(text + content.replace(old, new), encoding="utf-8")

    return edit


def write_bytes(name: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / name
        content = path.read_bytes() if path.exists() else b""
        path.write_bytes(content.replace(old, new, 1) if old else content + new)

    return edit


@dataclass(frozen=True)
class Refused:
    edit: Callable[[Path], None]
    words: tuple[str, ...]
    url: bool = True  # DATABASE_URL set (False: the .env file gives it)


REFUSED = [
    pytest.param(
        Refused(prepend(billion_laughs(), "\nversion: 1\n", "\nversion: *l8\n"), ("migrations.yaml:5:", "YAML bomb")),
        id="billion-laughs",
    ),
    pytest.param(
        Refused(
            prepend(merge_bomb(), "  url_env: DATABASE_URL", "  <<: *m40\n  url_env: DATABASE_URL"),
            ("migrations.yaml:", "YAML bomb"),
        ),
        id="merge-key-bomb",
    ),
    pytest.param(
        Refused(prepend("x-r: &r [*r]\n", "\nversion: 1\n", "\nversion: *r\n"), ("migrations.yaml:1:", "contains it")),
        id="recursive-sequence-anchor",
    ),
    pytest.param(
        Refused(
            prepend("", "database:\n  url_env: DATABASE_URL", "database: &d\n  <<: *d\n  url_env: DATABASE_URL"),
            ("migrations.yaml:3:", "contains it"),
        ),
        id="recursive-merge-anchor",
    ),
    pytest.param(
        Refused(prepend("", "\nversion: 1\n", "\nversion: " + "9" * 2_000_000 + "x\n"), ("migrations.yaml:2:", "version")),
        id="a-two-megabyte-value",
    ),
    pytest.param(
        Refused(
            write_bytes("migrations.yaml", b"  url_env: DATABASE_URL", b"  url_env: DATABASE_URL\xff"),
            ("migrations.yaml:4:", "not UTF-8", "offset", "0xff"),
        ),
        id="migrations-yaml-not-utf8",
    ),
    pytest.param(
        Refused(
            write_bytes(".env", b"", b"# caf\xe9\nDATABASE_URL={url}\n"), (".env:1:", "not UTF-8", "offset 5", "0xe9"), url=False
        ),
        id="dotenv-not-utf8",
    ),
]


@pytest.mark.parametrize("case", REFUSED)
@pytest.mark.parametrize("task", [("db.status",), ("db.upgrade-all",)])
def test_a_hostile_file_is_one_short_line(project: Path, database_url: str, case: Refused, task: tuple[str, ...]) -> None:
    case.edit(project)
    env_file = project / ".env"
    if env_file.exists():
        env_file.write_bytes(env_file.read_bytes().replace(b"{url}", database_url.encode()))
    before = snapshot(database_url)
    result = inv(project, *task, url=database_url if case.url else None)
    line = assert_bad_input(result)
    assert len(line) <= 500, line[:1000]
    missing = [word for word in case.words if word not in line]
    assert not missing, f"{missing} not in {line!r}"
    assert snapshot(database_url) == before
    assert not local_database_made(project)


# == 7. a service interpreter that is not Python, and a project folder the local database cannot use =============


@pytest.mark.parametrize("interpreter", ["/bin/true", "/bin/cat", "/bin/sh"])
@pytest.mark.parametrize("task", [("db.upgrade", "movements"), ("db.upgrade-all",)])
def test_a_service_interpreter_that_is_not_python_is_one_line(
    project: Path, database_url: str, interpreter: str, task: tuple[str, ...]
) -> None:
    replace_once(project / "migrations.yaml", "    schema: movements\n", f"    schema: movements\n    python: {interpreter}\n")
    before = snapshot(database_url)
    result = inv(project, *task, url=database_url)
    assert result.returncode == 1 and "Traceback" not in output(result), show(result)
    expected = f"movements: not a Python interpreter with dbtasks' worker: {interpreter}"
    if task == ("db.upgrade", "movements"):
        assert assert_failure(result, "movements").startswith(expected)
        assert snapshot(database_url) == before
    else:  # the other services still run; the summary names movements
        assert expected in result.stdout, show(result)
    assert version(database_url, "movements") == []


def test_a_project_folder_the_local_database_cannot_use_is_one_line(project: Path) -> None:
    (project / ".dbtasks").write_text("in the way\n", encoding="utf-8")
    result = inv(project, "db.status", url=None)
    line = assert_bad_input(result, code=1)
    assert "cannot write the local database's folder" in line and str(project / ".dbtasks") in line, line
    assert "writable" in line and "DATABASE_URL" in line, line
    assert (project / ".dbtasks").read_text(encoding="utf-8") == "in the way\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_project_folder_is_one_line(project: Path) -> None:
    project.chmod(0o555)
    try:
        result = inv(project, "db.status", url=None)
    finally:
        project.chmod(0o755)
    line = assert_bad_input(result, code=1)
    assert f"make {project} writable" in line, line
    assert not local_database_made(project)


# == 9. names and values the checks let through, and 6. timeouts that mean no timeout ===========================

LONG_SCHEMA = "s" * 64  # PostgreSQL would cut it to 63 bytes: another schema than the one declared


def environment_with(setting: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        with open(project / "migrations.yaml", "a", encoding="utf-8") as handle:
            handle.write(f"environments:\n  production:\n    url_env: PROD_DATABASE_URL\n    {setting}\n")

    return edit


def yaml_edit(old: str, new: str) -> Callable[[Path], None]:
    return lambda project: replace_once(project / "migrations.yaml", old, new)


NOT_ACCEPTED = [
    pytest.param(
        yaml_edit("  habits:\n", '  "habits\\n":\n'),
        ("services.habits", "service names use lowercase"),
        id="service-name-newline",
    ),
    pytest.param(
        yaml_edit("    schema: habits\n", '    schema: "habits\\n"\n'),
        ("services.habits.schema", "expected a schema name"),
        id="schema-newline",
    ),
    pytest.param(
        yaml_edit("  url_env: DATABASE_URL", '  url_env: "DATABASE_URL\\n"'),
        ("database.url_env", "expected an environment variable name"),
        id="url-env-newline",
    ),
    pytest.param(
        yaml_edit("    schema: habits\n", f"    schema: {LONG_SCHEMA}\n"),
        ("services.habits.schema", "at most 63", LONG_SCHEMA),
        id="schema-64-bytes",
    ),
    pytest.param(
        yaml_edit("    schema: movements\n", f"    schema: movements\n    schemas: [movements, {LONG_SCHEMA}]\n"),
        ("services.movements.schemas", "at most 63"),
        id="schemas-64-bytes",
    ),
    pytest.param(
        yaml_edit("    env: {ALEMBIC_ENV: local}\n", '    env: {ALEMBIC_ENV: "lo\\0cal"}\n'),
        ("services.journal.env", "no NUL character"),
        id="env-value-nul",
    ),
    pytest.param(
        environment_with("statement_timeout: 400us"),
        ("environments.production.statement_timeout", "below 1ms", "400us"),
        id="timeout-400us",
    ),
    pytest.param(
        environment_with("lock_timeout: 0.5ms"),
        ("environments.production.lock_timeout", "below 1ms"),
        id="timeout-half-a-millisecond",
    ),
    pytest.param(
        environment_with("statement_timeout: \u0663\u0660s"),  # Arabic-Indic digits: 30s to \d, nothing to PostgreSQL
        ("environments.production.statement_timeout", "expected a duration"),
        id="timeout-unicode-digits",
    ),
    pytest.param(
        environment_with("lock_timeout: 25d"),
        ("environments.production.lock_timeout", "2147483647ms"),
        id="timeout-out-of-range",
    ),
    pytest.param(
        environment_with("statement_timeout: 99999999999"),
        ("environments.production.statement_timeout", "2147483647ms"),
        id="timeout-out-of-range-plain-number",
    ),
]


@pytest.mark.parametrize(("edit", "words"), NOT_ACCEPTED)
def test_a_name_or_value_postgresql_would_read_otherwise_is_refused(
    project: Path, database_url: str, edit: Callable[[Path], None], words: tuple[str, ...]
) -> None:
    edit(project)
    before = snapshot(database_url)
    result = inv(project, "db.upgrade-all", url=database_url)
    line = assert_bad_input(result)
    assert line.startswith("migrations.yaml:"), line
    missing = [word for word in words if word not in line]
    assert not missing, f"{missing} not in {line!r}"
    assert snapshot(database_url) == before
    assert not local_database_made(project)


# == 10. libpq's query parameters in the URL, with asyncpg services =============================================


def test_libpq_and_pgbouncer_parameters_reach_no_asyncpg_service(project: Path, database_url: str) -> None:
    url = f"{database_url}?application_name=deploy&connect_timeout=10&pgbouncer=true&sslmode=disable&keepalives=1"
    result = inv(project, "db.upgrade-all", url=url)
    assert result.returncode == 0 and "Traceback" not in output(result), show(result)
    assert "TypeError" not in output(result) and "unexpected keyword" not in output(result), show(result)
    for service, schema in (("habits", "habits"), ("movements", "movements")):  # asyncpg, psycopg2
        assert version(database_url, schema) == [head_of(service)], show(result)
    doctor = inv(project, "db.doctor", url=url)
    assert "Traceback" not in output(doctor), show(doctor)
    assert "application_name, connect_timeout, keepalives in DATABASE_URL left out of the URL the asyncpg services" in (
        doctor.stdout
    ), show(doctor)
    assert "pgbouncer=true is left out" in doctor.stdout, show(doctor)


# == 6. SET LOCAL does not reach autocommit_block(): doctor says so ================================================


def test_doctor_warns_that_timeouts_do_not_reach_an_autocommit_block(project: Path, database_url: str) -> None:
    environment_with("statement_timeout: 30s")(project)
    plant_migration(
        project,
        "movements",
        "a0c0b10c0001",
        head_of("movements"),
        body="from alembic import op\n\n    with op.get_context().autocommit_block():\n        op.execute('SELECT 1')",
    )
    result = inv(project, "db.doctor", url=database_url, env={"PROD_DATABASE_URL": database_url})
    assert "Traceback" not in output(result), show(result)
    [line] = [line for line in result.stdout.splitlines() if "autocommit_block()" in line]
    assert "movements" in line and "a0c0b10c0001_planted.py" in line and "production" in line, line


def test_an_asyncpg_service_is_handed_the_certificate_files_of_the_url(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy hands asyncpg only the TLS mode: the files reach it as the PGSSL* variables it reads (a relative
    path made absolute, as the orchestrator's own libpq connections read it). The server has no TLS, so the proof is
    where asyncpg fails: loading the URL's missing root certificate, not looking for its ~/.postgresql default."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    from dbtasks import config
    from dbtasks.database.target import Target
    from dbtasks.database.urls import dropped_parameters, normalize, ssl_file_environment
    from dbtasks.run import runner

    monkeypatch.chdir(tmp_path)
    url = f"{database_url}?sslmode=verify-full&sslrootcert=certs/root.crt&sslcert=certs/me.crt&sslkey=certs/me.key"
    variables = ssl_file_environment(url, "asyncpg")
    assert variables == {
        "PGSSLROOTCERT": str(tmp_path / "certs/root.crt"),
        "PGSSLCERT": str(tmp_path / "certs/me.crt"),
        "PGSSLKEY": str(tmp_path / "certs/me.key"),
    }
    assert ssl_file_environment(url, "psycopg2") == {}  # libpq reads them from the URL itself
    services = config.load(REPO / "migrations.yaml").services
    assert runner._environment(services["habits"], Target.of(url, "DATABASE_URL"))["PGSSLROOTCERT"] == variables["PGSSLROOTCERT"]
    assert "PGSSLROOTCERT" not in runner._environment(services["movements"], Target.of(url, "DATABASE_URL"))
    assert dropped_parameters(url, "asyncpg") == []
    monkeypatch.setenv("HOME", str(tmp_path))

    async def connect() -> None:
        engine = create_async_engine(normalize(url, "asyncpg"))
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    with pytest.raises(Exception, match=re.escape(f'root certificate file "{tmp_path}/.postgresql/root.crt" does not')):
        asyncio.run(connect())  # without the variables: asyncpg's default place
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(FileNotFoundError):
        asyncio.run(connect())  # with them: the URL's file, which does not exist


def test_doctor_finds_every_way_a_migration_leaves_its_transaction(project: Path, database_url: str) -> None:
    environment_with("statement_timeout: 30s")(project)
    service = project / "services" / "movements"
    (service / "planted_helpers.py").write_text('def finish(op):\n    op.execute ( "COMMIT" )\n', encoding="utf-8")
    plant_migration(
        project,
        "movements",
        "a0c0b10c0002",
        head_of("movements"),
        body="from planted_helpers import finish\n\n    with op.get_context().autocommit_block ():\n        finish(op)",
    )
    env_py = service / "alembic" / "env.py"
    text = env_py.read_text(encoding="utf-8")
    env_py.write_text(
        text.replace("poolclass=pool.NullPool,", 'poolclass=pool.NullPool, isolation_level="AUTOCOMMIT",'), encoding="utf-8"
    )
    result = inv(project, "db.doctor", url=database_url, env={"PROD_DATABASE_URL": database_url})
    assert "Traceback" not in output(result), show(result)
    lines = [line for line in result.stdout.splitlines() if line.split()[1:2] == ["movements"] and "warning" in line]
    assert any("a0c0b10c0002_planted.py runs statements in autocommit_block()" in line for line in lines), lines
    assert any("planted_helpers.py executes COMMIT" in line for line in lines), lines
    assert any("env.py sets the AUTOCOMMIT isolation level: no migration runs in a transaction" in line for line in lines), lines
