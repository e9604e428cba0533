"""pg.py's two clients, libpq through ctypes and psycopg2, against the test server: the same rows, quoting and errors."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
from _support import execute, query

from dbtasks import settings
from dbtasks.database import pg
from dbtasks.worker.libpq import libpq

CLIENTS: dict[str, Callable[[str], pg.Connection]] = {
    "libpq": lambda url: pg._Libpq(pg._library(), url, settings.CONNECT_TIMEOUT),
    "psycopg2": lambda url: pg._Psycopg2(url, settings.CONNECT_TIMEOUT),
}


def test_this_machine_loads_the_libpq_psycopg2_binary_bundles() -> None:
    """Without it every test of the libpq client below would be testing psycopg2 twice."""
    assert pg._library() is not None
    assert "/psycopg2_binary.libs/libpq-" in pg.implementation(), pg.implementation()  # the bundle, not the system's


@pytest.mark.parametrize("client", CLIENTS)
def test_rows_come_back_as_text_and_none(client: str, database_url: str) -> None:
    with CLIENTS[client](libpq(database_url)) as connection:
        rows = connection.rows("SELECT 1::text, NULL::text, 'é'::text, true::text UNION ALL SELECT '2', 'b', '', false::text")
        assert rows == [("1", None, "é", "true"), ("2", "b", "", "false")]
        assert connection.rows("SET search_path TO public") == []


@pytest.mark.parametrize("client", CLIENTS)
def test_literals_and_identifiers_are_quoted_as_the_server_reads_them(client: str, database_url: str) -> None:
    awkward = 'we\'i\\rd "name" 50%'
    with CLIENTS[client](libpq(database_url)) as connection:
        assert connection.rows(f"SELECT {connection.literal(awkward)}") == [(awkward,)]
        schema = connection.identifier(awkward)
        connection.rows(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.{connection.identifier('t')} (x int)")
    assert query(
        database_url,
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = %s",
        (awkward,),
    ) == [("t",)]
    execute(database_url, f'DROP SCHEMA "{awkward.replace(chr(34), chr(34) * 2)}" CASCADE')


@pytest.mark.parametrize("client", CLIENTS)
def test_errors_are_one_line_pg_errors(client: str, database_url: str) -> None:
    with CLIENTS[client](libpq(database_url)) as connection:
        with pytest.raises(pg.PgError, match='relation "no_such_table" does not exist') as raised:
            connection.rows("SELECT * FROM no_such_table")
        assert "\n" not in str(raised.value)
        assert connection.rows("SELECT 'still usable'") == [("still usable",)]  # autocommit: no aborted transaction
    parts = urlsplit(libpq(database_url))
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"))
    with pytest.raises(pg.PgError, match="password authentication failed") as raised:
        CLIENTS[client](wrong)
    assert "\n" not in str(raised.value)
