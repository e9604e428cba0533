"""The fast path: which services are at head, decided from one catalog query and the migration files.

Starting a worker costs an interpreter, the imports of Alembic and SQLAlchemy, env.py and a connection
per service. When a service's files and its version table's rows say for certain where it stands, no
worker is needed to report it or to do nothing. Anything uncertain (a revision no file declares
literally, a version table whose name env.py computes, no version table yet, several heads, an error)
is left to the worker, which reports it properly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from . import settings
from .config.project import Service
from .database import pg
from .errors import DatabaseMissing, DatabaseUnreachable
from .files.graph_cache import GraphCache
from .worker import checksums, revisions
from .worker.libpq import database_name, libpq

if TYPE_CHECKING:
    from .database.target import Target

# Two round trips for every service of one database together: which version tables (and the checksum tables beside
# them) exist, then all their rows.
_TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND (n.nspname || '.' || c.relname) IN ({})
"""


@dataclass(frozen=True)
class Known:
    """A service's state as the files and the catalog tell it."""

    current: tuple[str, ...]
    head: str
    pending: int
    applied: tuple[tuple[str, str], ...] = ()  # (revision, file) of every applied revision, oldest first
    recorded: dict[str, dict[str, Any]] | None = field(default=None, compare=False)  # the checksum rows; None: no table
    defined: frozenset[str] = frozenset()  # every revision a file defines

    def status(self) -> dict[str, object]:
        return {"current": list(self.current), "head": [self.head], "pending": self.pending, "unknown": []}

    def checksums(self, folder: str, cache: GraphCache | None) -> dict[str, Any]:
        """The checksum verdict (edited, missing, unknown) as the worker's status gives it, from the cached files."""
        sum_of = cache.checksum if cache is not None else checksums.file_checksum
        found = checksums.judge(self.applied, self.recorded, lambda revision: revision in self.defined, sum_of, folder)
        return {key: found[key] for key in ("edited", "missing", "unknown")}


def known_states(
    target: Target,
    services: Iterable[Service],
    cache: GraphCache | None = None,
    *,
    probe: bool = False,
    hint: str = "",
    ours: str,
    connection: pg.Connection | None = None,
    transcript: Transcript | None = None,
) -> dict[str, Known]:
    """The services whose state is certain without a worker, by name (`cache`: the revision files read before).

    With `probe`, a database that cannot be reached raises DatabaseUnreachable in doctor's words (one connection
    serves both: a fleet member is connected to once); without, the workers say what is wrong. `connection`: an open
    one to the target's database to read through (the migration lock's), instead of a new one. `transcript` gets
    each query and its rows (replay.py)."""
    graphs = {}
    if settings.fastpath() and target.url is not None:
        graphs = {service.name: (service, graph) for service in services if (graph := _graph(service, cache)) is not None}
    if not graphs:
        if probe:
            reach(target, hint).close()
        return {}
    tables = sorted({service.expected_version_table for service, _ in graphs.values()})
    read = _versions(target, tables, probe, hint, ours, connection, transcript)
    if read is None:
        return {}
    rows, sums = read
    found: dict[str, Known] = {}
    for name, (service, graph) in graphs.items():
        current = rows.get(service.expected_version_table)
        heads = revisions.heads(graph)
        # An empty version table may sit beside tables from before Alembic (or stamp base): the worker looks.
        if not current or len(heads) != 1 or not all(revision in graph for revision in current):
            continue
        applied = tuple((revision, graph[revision][0]) for revision in revisions.applied(graph, current))
        pending = revisions.pending(graph, current)
        recorded = sums.get(service.expected_version_table)
        found[name] = Known(tuple(current), heads[0], pending, applied, recorded, frozenset(graph))
    return found


def reach(target: Target, hint: str = "") -> pg.Connection:
    """A connection to `target` (pg.py), or DatabaseUnreachable saying why in doctor's words, within its timeout
    (`hint`: explain.connect_problem's create_hint)."""
    assert target.url is not None
    try:
        return pg.connect(libpq(target.url))
    except pg.PgError as error:
        from .explain import connect_problem, missing_database

        message = target.redact(connect_problem(target, str(error), hint))
        if missing_database(str(error)):
            raise DatabaseMissing(message, database_name(target.url)) from None
        raise DatabaseUnreachable(message) from None


def file_graph(service: Service, cache: GraphCache | None = None) -> dict[str, tuple[str, list[str]]] | None:
    """The service's revision graph as its files declare it, when that is certain: every revision a literal and
    every down_revision defined by a file (else Alembic itself must read them, and say what is wrong); never for one
    branch of a shared environment (the files hold every branch)."""
    if service.branch:
        return None
    cache = cache or GraphCache(None)
    located = cache.located(service.alembic_source)
    graph = cache.graph(located[0]) if located is not None and located[0] else None
    if graph is None or any(down not in graph for _, downs in graph.values() for down in downs):
        return None
    return graph


def _graph(service: Service, cache: GraphCache | None) -> dict[str, tuple[str, list[str]]] | None:
    cache = cache or GraphCache(None)
    located = cache.located(service.alembic_source)
    if located is None or (service.version_table is None and located[2]) or service.branch or service.engines:
        return None  # env.py computes its version table's name, or one branch of several: only the worker reads it right
    return file_graph(service, cache)


Versions = dict[tuple[str, str], list[str]]
Transcript = list[tuple[str, list[tuple[Optional[str], ...]]]]  # (query, its rows) in the order they were read
Sums = dict[tuple[str, str], dict[str, dict[str, Any]]]  # by version table: the rows of the checksum table beside it


def _versions(
    target: Target,
    tables: list[tuple[str, str]],
    probe: bool,
    hint: str,
    schema: str,
    given: pg.Connection | None = None,
    transcript: Transcript | None = None,
) -> tuple[Versions, Sums] | None:
    """(schema, table) -> its rows, for the version tables that exist, and the checksum rows of each (dbtasks_state.checksums,
    over a legacy table beside it not moved yet); None on any error (but see `probe`)."""
    sum_tables = {(schema, checksums.legacy_table(table)): (schema, table) for schema, table in tables}
    ours = (schema, checksums.TABLE)
    try:
        connection = given or reach(target, hint)
    except DatabaseUnreachable:
        if probe:
            raise
        return None  # the workers will say what is wrong with the connection
    try:
        names = [f"{schema}.{table}" for schema, table in [*tables, *sum_tables, ours]]
        listed = _rows(connection, _TABLES_SQL.format(", ".join(connection.literal(name) for name in names)), transcript)
        existing = sorted((str(row[0]), str(row[1])) for row in listed if (str(row[0]), str(row[1])) != ours)
        found: Versions = {key: [] for key in existing if key not in sum_tables}
        sums: Sums = {sum_tables[key]: {} for key in existing if key in sum_tables}
        keys = {checksums.key_of(schema, table): (schema, table) for schema, table in tables}
        has_ours = len(listed) > len(existing)
        newer: Sums = {table: {} for table in keys.values()} if has_ours else {}  # as the worker reads it: a table
        if existing or has_ours:
            for index, revision, *row, key in _rows(
                connection,
                _select_rows(existing, sum_tables, keys if has_ours else {}, connection, checksums.qualified(*ours)),
                transcript,
            ):
                recorded = checksums.as_recorded([(revision, *row)])
                table = keys[str(key)] if index is None else existing[int(str(index))]
                if index is None:  # a row of dbtasks_state.checksums
                    newer[table].update(recorded)
                elif table in sum_tables:
                    sums[sum_tables[table]].update(recorded)
                else:
                    found[table].append(str(revision))
        for table, rows in newer.items():  # its rows over a legacy table's not moved yet
            sums[table] = {**sums.get(table, {}), **rows}
        return {key: sorted(rows) for key, rows in found.items()}, sums
    except pg.PgError:
        return None
    finally:
        connection.close()


def _rows(connection: pg.Connection, sql: str, transcript: Transcript | None) -> list[tuple[str | None, ...]]:
    """The query's rows, also kept in `transcript` when given (replay.py)."""
    rows = connection.rows(sql)
    if transcript is not None:
        transcript.append((sql, rows))
    return rows


def _select_rows(
    existing: list[tuple[str, str]],
    sum_tables: Iterable[tuple[str, str]],
    keys: Iterable[str],
    connection: pg.Connection,
    table: str,
) -> str:
    """One query for the rows of every version and checksum table, padded to the same columns: (index in `existing`,
    or NULL for dbtasks_state.checksums; revision; checksum, file, applied_at, applied_by; the version table's key)."""
    versions = "SELECT {}, version_num::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text FROM {}.{}"
    sums = "SELECT {}, revision::text, checksum::text, file, applied_at::text, applied_by, NULL::text FROM {}.{}"
    is_sum = set(sum_tables)
    parts = [
        (sums if key in is_sum else versions).format(index, connection.identifier(key[0]), connection.identifier(key[1]))
        for index, key in enumerate(existing)
    ]
    wanted = ", ".join(connection.literal(key) for key in keys)
    if wanted:
        parts.append(
            "SELECT NULL::int, revision::text, checksum::text, file, applied_at::text, applied_by, version_table "
            f"FROM {table} WHERE version_table IN ({wanted})"
        )
    return " UNION ALL ".join(parts)


def files_history(service: Service, cache: GraphCache | None = None) -> list[dict[str, object]] | None:
    """The service's revisions newest first, as `alembic history` lists them, when they form one line (no branch, no
    merge) read with certainty from the files; else None (Alembic's own walk orders branches)."""
    graph = file_graph(service, cache) if settings.fastpath() else None
    heads = revisions.heads(graph) if graph else []
    if graph is None or len(heads) != 1:
        return None
    order: list[str] = []
    revision: str | None = heads[0]
    while revision is not None and revision not in order:
        order.append(revision)
        downs = graph[revision][1]
        revision = downs[0] if len(downs) == 1 else None
    if len(order) != len(graph) or graph[order[-1]][1]:
        return None
    return [
        {"revision": rev, "down_revision": graph[rev][1], "doc": revisions.summary_of(graph[rev][0]), "head": rev == heads[0]}
        for rev in order
    ]
