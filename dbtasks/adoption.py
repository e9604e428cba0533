"""Adopting databases that plain Alembic migrated: which revision each service is at, where its row is, and the one
safe step (move the row into the service's own version table, or upgrade). Read from the catalog and the revision
files; the move runs under the migration locks of both tables, in one transaction, and is undone by a printed command."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .database.pg import Connection, PgError, connect
from .errors import DbtasksError, UsageError
from .worker.libpq import libpq

if TYPE_CHECKING:
    from .config.project import Service
    from .session import Session

Table = tuple[str, str]

# Every table shaped like Alembic's version table (a version_num column) outside the system schemas.
_VERSION_TABLES = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'version_num' AND NOT a.attisdropped "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
)


def spelled(table: Table) -> str:
    return f"{table[0]}.{table[1]}"


@dataclass(frozen=True)
class Found:
    """What one service's database holds: every version table's rows, and whose revision each id is."""

    rows: dict[Table, list[str]]
    owners: dict[str, set[str]]  # revision id -> the services whose files define it (ids may repeat across services)
    heads: dict[str, set[str]]  # service -> its head revisions
    tables: dict[Table, str]  # each configured service's own version table -> that service
    untracked: bool = False  # tables in the service's schemas (besides version tables) with no row of it anywhere

    def belongs(self, row: str, table: Table) -> bool:
        """Whether `row` is rightly in `table`: the table is a service's own and the row one of its revisions."""
        return table in self.tables and self.tables[table] in self.owners.get(row, set())


def adopt(session: Session, service: Service, yes: bool = False, move_to: str = "") -> dict[str, Any]:
    """The service's adoption state and its one safe step; with `yes`, that step taken (a move), or with `move_to`
    (SCHEMA.TABLE) the service's row moved back there (the undo of a move)."""
    if move_to:
        return _move_back(session, service, _table_option(service, move_to), yes)
    found = _read(session, service)
    report = _decide(service, found)
    if report["state"] == "not recorded" and found.untracked:
        report = _matched(session, service, report)
    if yes and report["action"] == "stamp":
        session.require_yes(yes, service.name, f"adopt records {report['revision']} without running migrations", service)
        with session.locked(service) as held:  # read and matched again under the lock: what another run may have changed
            fresh = _decide(service, _read(session, service))
            if fresh["state"] != "not recorded" or _matched(session, service, fresh) != report:
                raise DbtasksError(
                    f"{service.name}: its tables or version tables changed while adopt waited for the lock; nothing was "
                    f"recorded: rerun inv db.adopt --service {service.name} to see where it stands now"
                )
            session.run(service, "stamp", lock=held, revision=report["revision"])
        return {
            **report,
            "state": "stamped",
            "detail": f"recorded {report['revision']}, the revision its tables match",
            "undo": f"inv db.stamp {service.name} base --yes",
            "command": _next(service, report["revision"], found),
        }
    if not (yes and report["action"] == "move"):
        return report
    session.require_yes(yes, service.name, f"adopt moves {report['revision']} into {report['own_table']}", service)
    source = _parse(report["found_in"])
    with _locked(session, service, source):
        again = _read(session, service)  # under the locks: what another run may have changed meanwhile
        if _decide(service, again) != report:
            raise DbtasksError(
                f"{service.name}: its version tables changed while adopt waited for the lock; nothing was moved: rerun"
            )
        _move(session, service, report["revision"], source, service.expected_version_table)
    return {
        **report,
        "state": "moved",
        "detail": f"moved {report['revision']} from {report['found_in']} to {report['own_table']}",
        "undo": f"inv db.adopt --service {service.name} --move-to {report['found_in']} --yes",
        "command": _next(service, report["revision"], again),
    }


def _decide(service: Service, found: Found) -> dict[str, Any]:
    own = service.expected_version_table
    base = {"service": service.name, "own_table": spelled(own), "revision": None, "found_in": None, "undo": None}
    rows = found.rows.get(own, [])
    if rows:
        strangers = [row for row in rows if service.name not in found.owners.get(row, set())]
        if not strangers:
            return {
                **base,
                "state": "adopted",
                "revision": ",".join(rows),
                "action": "none",
                "detail": f"at {', '.join(rows)} in its own {spelled(own)}",
                "command": _next(service, rows[0], found),
            }
        row = strangers[0]
        owners = sorted(found.owners.get(row, set()))
        if not owners:
            return {
                **base,
                "state": "unknown revision",
                "revision": row,
                "action": "none",
                "command": None,
                "detail": f"{spelled(own)} holds {row}, which no service's migration files define; restore the file "
                "that defines it",
            }
        return {
            **base,
            "state": "holds another's row",
            "revision": row,
            "action": "none",
            "command": f"inv db.adopt --service {owners[0]}",
            "detail": f"{spelled(own)} holds {row}, a revision of {' and '.join(owners)} (plain Alembic kept both in one table)",
        }
    elsewhere = [
        (table, row)
        for table, listed in found.rows.items()
        if table != own
        for row in listed
        if service.name in found.owners.get(row, set()) and not found.belongs(row, table)
    ]
    shared = [row for _, row in elsewhere if len(found.owners.get(row, set())) > 1]
    if shared:
        return {
            **base,
            "state": "ambiguous",
            "action": "none",
            "command": None,
            "detail": f"{shared[0]} is a revision of {' and '.join(sorted(found.owners[shared[0]]))}: adopt cannot tell "
            "whose row it is; move it into the right service's own version table by hand",
        }
    if len(elsewhere) > 1:
        places = ", ".join(f"{row} in {spelled(table)}" for table, row in elsewhere)
        return {
            **base,
            "state": "ambiguous",
            "action": "none",
            "command": None,
            "detail": f"its revisions are recorded in several places ({places}); keep the one that is true and delete "
            "the others by hand, then rerun",
        }
    if elsewhere:
        table, row = elsewhere[0]
        behind = _behind(service, row, found)
        return {
            **base,
            "state": "row elsewhere",
            "revision": row,
            "found_in": spelled(table),
            "action": "move",
            "command": f"inv db.adopt --service {service.name} --yes",
            "detail": f"plain Alembic recorded {row} ({behind}) in {spelled(table)}; adopt moves it to {spelled(own)}",
        }
    return {
        **base,
        "state": "not recorded",
        "action": "none",
        "command": None,
        "detail": f"no revision of {service.name} is recorded in any version table of this database; see "
        f"'inv db.status' (not initialized, or tables without revision)",
    }


def _matched(session: Session, service: Service, report: dict[str, Any]) -> dict[str, Any]:
    """Tables and no revision: the revision whose schema they are, found by applying the migrations one at a time in a
    scratch database (the service's dependencies in the same database brought to head there first)."""
    from .verify import dependencies, scratch_database

    target = session.database(service)
    prepare = [dep for dep in dependencies(session.project, service) if dep.database_key == service.database_key]
    session.expect_workers(len(prepare) + 1)
    with scratch_database(target, service.name, announce=session.announce) as scratch:
        for dependency in prepare:
            session.run(dependency, "upgrade", on=scratch, to="head")
        data = session.run(service, "match", on=scratch, live=_url(service, target.url))
    if data.get("absent"):  # the tables were other services' (a shared schema): nothing of this one is there
        return report
    matches = list(data.get("matches") or [])
    base = {**report, "state": "tables without revision"}
    if len(matches) == 1:
        return {
            **base,
            "revision": matches[0],
            "action": "stamp",
            "command": f"inv db.adopt --service {service.name} --yes",
            "detail": f"its tables are the schema of {matches[0]} (its migrations applied one at a time in a scratch "
            f"database); adopt records {matches[0]} in {report['own_table']}",
        }
    if matches:
        return {
            **base,
            "detail": f"its tables are the schema of {', '.join(matches)} alike (they differ in data only): adopt "
            "cannot tell which ran; check the data those migrations change, then record that revision",
        }
    if data.get("branched"):
        return {
            **base,
            "detail": "its history branches: adopt compares linear histories only; compare the tables with "
            f"'inv db.history {service.name}' before recording a revision",
        }
    shown = "; ".join(list(data.get("differences") or [])[:3])
    return {
        **base,
        "detail": f"no revision's schema is the live one (closest: {data.get('closest')}, which differs: {shown}); "
        "nothing to record: bring the tables in line with a revision, or fix the migrations",
    }


def _behind(service: Service, revision: str, found: Found) -> str:
    heads = found.heads.get(service.name, set())
    return "its head" if revision in heads else "behind its head"


def _next(service: Service, revision: str, found: Found) -> str | None:
    return None if revision in found.heads.get(service.name, set()) else f"inv db.upgrade {service.name}"


def _read(session: Session, service: Service) -> Found:
    from .fastpath import file_graph

    owners: dict[str, set[str]] = {}
    heads: dict[str, set[str]] = {}
    tables: dict[Table, str] = {}
    for other in [service, *session.project.neighbours(service)]:
        graph = file_graph(other, session.graphs)
        if graph is None:
            graph = {revision: ("", []) for revision in _worker_revisions(session, other)}
        downs = {down for _, listed in graph.values() for down in listed}
        heads[other.name] = {revision for revision in graph if revision not in downs}
        for revision in graph:
            owners.setdefault(revision, set()).add(other.name)
        tables[other.expected_version_table] = other.name
    target = session.database(service)
    try:
        with connect(libpq(_url(service, target.url))) as connection:
            rows = {}
            for schema, name in connection.rows(_VERSION_TABLES):
                assert schema is not None and name is not None
                table = f"{connection.identifier(schema)}.{connection.identifier(name)}"
                rows[(schema, name)] = [str(row[0]) for row in connection.rows(f"SELECT version_num FROM {table} ORDER BY 1")]
            listed = ", ".join(connection.literal(name) for name in service.owned_schemas)
            present = connection.rows(f"SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ({listed})")
    except PgError as error:
        raise DbtasksError(
            target.redact(
                f"{service.name}: cannot read the version tables ({error}); check {target.source} and that the server is running"
            )
        ) from None
    untracked = any((schema, name) not in rows for schema, name in present if schema is not None and name is not None)
    return Found(rows, owners, heads, tables, untracked)


def _url(service: Service, url: str | None) -> str:
    if url is None:
        raise UsageError(f"{service.name}: adopt reads the database, and no URL is configured; set DATABASE_URL")
    return url


def _worker_revisions(session: Session, service: Service) -> list[str]:
    """The revision ids of a service whose files only Alembic can read (computed names, one branch of several)."""
    history = session.run(service, "history")
    return [str(entry["revision"]) for entry in history.get("revisions") or [] if entry.get("revision")]


def _locked(session: Session, service: Service, table: Table) -> ExitStack:
    """The migration locks of the service and of each service whose version table is `table`, in one order."""
    owners = [service, *(other for other in session.project.neighbours(service) if other.expected_version_table == table)]
    stack = ExitStack()
    try:
        for one in sorted(owners, key=lambda each: each.expected_version_table):
            stack.enter_context(session.locked(one))
    except BaseException:
        stack.close()
        raise
    return stack


def _move(session: Session, service: Service, revision: str, source: Table, own: Table) -> None:
    """Move `revision` from `source` into `own` (made when missing, as Alembic makes it) in one transaction."""
    target = session.database(service)
    try:
        with connect(libpq(_url(service, target.url))) as connection:
            connection.rows(_moving(connection, revision, source, own))
    except PgError as error:
        raise DbtasksError(
            target.redact(f"{service.name}: moving {revision} into {spelled(own)} failed ({error}); nothing was changed")
        ) from None


def _moving(connection: Connection, revision: str, source: Table, own: Table) -> str:
    """One statement string, so one transaction: the own table made like Alembic makes it, the row moved."""
    schema, name = (connection.identifier(part) for part in own)
    into = f"{schema}.{name}"
    primary = connection.identifier(f"{own[1]}_pkc")
    value = connection.literal(revision)
    origin = ".".join(connection.identifier(part) for part in source)
    return (
        f"BEGIN; SET LOCAL client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS {schema}; "
        f"CREATE TABLE IF NOT EXISTS {into} (version_num VARCHAR(32) NOT NULL, CONSTRAINT {primary} PRIMARY KEY (version_num)); "
        f"WITH moved AS (DELETE FROM {origin} WHERE version_num = {value} RETURNING version_num) "
        f"INSERT INTO {into} (version_num) SELECT version_num FROM moved; COMMIT"
    )


def _move_back(session: Session, service: Service, table: Table, yes: bool) -> dict[str, Any]:
    own = service.expected_version_table
    session.require_yes(
        yes, service.name, f"--move-to moves its recorded revision from {spelled(own)} to {spelled(table)}", service
    )
    found = _read(session, service)
    if table not in found.rows:
        raise UsageError(
            f"{service.name}: {spelled(table)} is not a version table in its database; give the table adopt moved the row from"
        )
    rows = found.rows.get(own, [])
    if len(rows) != 1:
        raise UsageError(f"{service.name}: {spelled(own)} holds {len(rows)} rows; --move-to moves exactly one, as adopt moved it")
    with _locked(session, service, table):
        if _read(session, service).rows.get(own, []) != rows:
            raise DbtasksError(
                f"{service.name}: {spelled(own)} changed while adopt waited for the lock; nothing was moved: rerun"
            )
        _move(session, service, rows[0], own, table)
    return {
        "service": service.name,
        "state": "moved back",
        "revision": rows[0],
        "found_in": spelled(own),
        "own_table": spelled(own),
        "action": "none",
        "command": None,
        "undo": f"inv db.adopt --service {service.name} --yes",
        "detail": f"moved {rows[0]} from {spelled(own)} back to {spelled(table)}",
    }


def _table_option(service: Service, text: str) -> Table:
    table = _parse(text)
    if table == service.expected_version_table:
        raise UsageError(f"{service.name}: --move-to names its own version table; give the table to move the row to")
    return table


def _parse(text: str) -> Table:
    schema, dot, name = text.partition(".")
    if not dot or not schema or not name or "." in name:
        raise UsageError(f"--move-to {text!r}: expected SCHEMA.TABLE, such as public.alembic_version")
    return schema, name
