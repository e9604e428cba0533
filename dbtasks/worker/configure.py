"""The patch on Alembic's context.configure: what env.py asks for is checked, fenced and recorded.

A worker runs one service, so patching EnvironmentContext.configure is scoped to that service:
- guards: refuse an env.py that keeps its version table elsewhere than migrations.yaml says, connects to
  another database than the one handed to it, or (for check and generate) has no model in the schema;
- the fence: autogenerate sees only what the service owns (ownership.py), whatever env.py asked for;
- timeouts: the environment's statement_timeout and lock_timeout, SET LOCAL in every transaction;
- the recorder: each applied step, one transaction per migration, with its file's checksum (applied.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import applied
from .compat import dbapi_connection, exec_driver_sql, scalar_driver_sql
from .failures import Failure
from .protocol import AUTOGENERATE_PHASES, REPORTING_OPS, WRITING_OPS

if TYPE_CHECKING:
    from .operation import Operation

# psycopg2 and psycopg 3 connections env.py opened: a Python signal handler runs only once the query in progress
# returns, so the lifeline watcher (process.py) cancels that query from its thread.
CANCELLABLE: list[Any] = []


def install(operation: Operation) -> None:
    """Wrap EnvironmentContext.configure for the rest of this process."""
    from alembic.runtime.environment import EnvironmentContext

    original = EnvironmentContext.configure

    def configure(self: Any, *args: Any, **kw: Any) -> None:
        _register_cancellable(kw.get("connection"))
        hand_version_table(operation, kw)
        check_target(operation, kw)
        apply_settings(operation, kw.get("connection"))
        if operation.phase in AUTOGENERATE_PHASES:
            fence(operation, kw)
        if operation.phase in WRITING_OPS:
            # One transaction per migration: a failure keeps the earlier ones applied and recorded.
            kw.setdefault("transaction_per_migration", True)
            kw["on_version_apply"] = recorder(operation, kw.get("on_version_apply"))
        original(self, *args, **kw)

    EnvironmentContext.configure = configure  # type: ignore[method-assign]


def _register_cancellable(connection: Any) -> None:
    dbapi = dbapi_connection(connection)
    if dbapi is not None and type(dbapi).__module__.startswith("psycopg") and dbapi not in CANCELLABLE:
        CANCELLABLE.append(dbapi)  # asyncpg needs none: asyncio turns Ctrl-C into a cancelled query itself


def hand_version_table(operation: Operation, kw: dict[str, Any]) -> None:
    """migrations.yaml's declared version table, for what env.py does not pass itself (one it passes is checked)."""
    handed = operation.request.get("hand_version_table")
    if handed:
        given = {"version_table_schema": handed[0], "version_table": handed[1]}
        operation.handed = sorted(key for key in given if kw.get(key) is None)
        kw.update({key: given[key] for key in operation.handed})


def check_target(operation: Operation, kw: dict[str, Any]) -> None:
    """Refuse to run when env.py would read or write another place than the one dbtasks reports."""
    connection = kw.get("connection")
    default = getattr(getattr(connection, "dialect", None), "default_schema_name", None)
    version_schema = kw.get("version_table_schema") or default
    version_table = kw.get("version_table") or "alembic_version"
    operation.version_table = {"table": version_table, "schema": version_schema}
    operation.configured = dict(kw)  # what env.py passed to context.configure, for doctor
    wanted = list(operation.request.get("version_table") or [operation.schema, "alembic_version"])
    if version_schema is not None and [version_schema, version_table] != wanted and operation.op not in REPORTING_OPS:
        raise Failure(
            "version_table",
            "version table elsewhere",
            found=f"{version_schema}.{version_table}",
            expected=".".join(wanted),
            explicit=bool(kw.get("version_table_schema")),
        )
    if connection is not None:
        expected = address(os.environ.get(operation.request["url_env"], ""))
        actual = address(str(connection.engine.url))
        overridden = bool(expected and actual and expected == actual)
        if overridden and actual is not None:
            reached = connected_database(connection)  # the server's word, not the URL's
            if reached != actual[2] and reached != _database_of(operation.url):
                actual = (actual[0], actual[1], reached)
        engines = {address(url) for url in (operation.request.get("engines") or {}).values()}
        if expected and actual and expected != actual and actual not in engines:  # multidb: any of its engines
            # Compared with the loopback spellings made equal, shown as the handed URL spells its host (as the
            # "target of" line does): 127.0.0.1 in one line and localhost in the next read as two servers.
            spelled = _spelled_host(os.environ.get(operation.request["url_env"], "")) or expected[0]
            raise Failure(
                "wrong_database",
                "env.py connected elsewhere",
                expected=_show((spelled, *expected[1:])),
                actual=_show((spelled if actual[0] == expected[0] else actual[0], *actual[1:])),
                overridden=overridden,
            )
    if operation.phase in AUTOGENERATE_PHASES:
        schemas = metadata_schemas(kw.get("target_metadata"), default)
        if schemas and not schemas & set(operation.ownership.schemas):
            raise Failure("schema_mismatch", "models in other schemas", found=sorted(schemas))


def apply_settings(operation: Operation, connection: Any) -> None:
    """SET LOCAL the environment's timeouts in every transaction of env.py's connection (and the open one)."""
    settings = operation.request.get("settings") or {}
    if connection is None or not settings or getattr(connection, "_dbtasks_settings", False):
        return
    from sqlalchemy import event

    statements = [f"SET LOCAL {name} = '{value}'" for name, value in sorted(settings.items())]

    def on_begin(conn: Any) -> None:
        for statement in statements:
            exec_driver_sql(conn, statement)

    event.listen(connection, "begin", on_begin)
    connection._dbtasks_settings = True
    if connection.in_transaction():
        on_begin(connection)


def fence(operation: Operation, kw: dict[str, Any]) -> None:
    """Make autogenerate see only what the service owns (ownership.py), whatever env.py asked for; env.py's own
    filters still apply within that."""
    connection = kw.get("connection")
    user_name_filter = kw.get("include_name")
    user_object_filter = kw.get("include_object")
    default = getattr(getattr(connection, "dialect", None), "default_schema_name", None)
    ownership = operation.ownership
    ownership.learn_models(kw.get("target_metadata"), default, user_object_filter)
    ownership.learn_migrations(default)

    def include_name(name: Any, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema":
            if not ownership.owns_schema(name or default):
                return False
        else:
            schema = parent_names.get("schema_name") or default
            table = name if type_ == "table" else parent_names.get("table_name")
            if table and ownership.bookkeeping(schema, table):
                return False  # the checksum table, like the version table, is no model's
            if not ownership.owns(schema, table) if table else not ownership.owns_schema(schema):
                return False
        return user_name_filter(name, type_, parent_names) if user_name_filter else True

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        schema = getattr(table, "schema", None) or default
        if table is not None and (not ownership.owns(schema, table.name) or ownership.bookkeeping(schema, table.name)):
            return False
        return user_object_filter(obj, name, type_, reflected, compare_to) if user_object_filter else True

    kw["include_schemas"] = True
    kw["include_name"] = include_name
    kw["include_object"] = include_object


_LOCK_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND pid = {} AND classid = {}::oid AND objid = {}::oid)"
)


def recorder(operation: Operation, user_callback: Any) -> Any:
    lock = [int(value) for value in operation.request.get("lock") or []]

    def on_version_apply(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        # Called inside the step's transaction, before its commit: without the parent's lock, roll it back.
        if lock and not scalar_driver_sql(ctx.connection, _LOCK_HELD.format(*lock)):
            revision = ",".join(step.destination_revision_ids if step.is_upgrade else step.source_revision_ids)
            raise Failure("lock_lost", f"server pid {lock[0]} no longer holds the lock", revision=revision)
        applied.record_step(operation, ctx, step)  # the checksum of what was applied, in the same transaction
        operation.applied.append(
            {
                "from": list(step.source_revision_ids),
                "to": list(step.destination_revision_ids),
                "upgrade": bool(step.is_upgrade),
                "stamp": bool(step.is_stamp),
                "doc": (step.up_revision.doc if step.up_revision is not None else "") or "",
            }
        )
        if operation.on_step is not None:
            operation.on_step(ctx, step, heads)
        if user_callback is not None:
            user_callback(ctx=ctx, step=step, heads=heads, run_args=run_args)

    return on_version_apply


def address(url: str) -> tuple[str, int, str] | None:
    """(host, port, database) of a URL, with the loopback spellings made equal; None if unparsable."""
    if not url:
        return None
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:
        return None
    host = parsed.host or str(parsed.query.get("host") or "localhost")
    host = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    return (host, int(parsed.port or 5432), parsed.database or "")


def connected_database(connection: Any) -> str:
    """The database env.py's connection reached, as the server says (a driver may drop the one its URL names), read
    without leaving a transaction open that Alembic would take for env.py's own."""
    began = not connection.in_transaction() if hasattr(connection, "in_transaction") else False
    name = str(scalar_driver_sql(connection, "SELECT current_database()"))
    if began and connection.in_transaction():
        connection.rollback()
    return name


def _database_of(url: str) -> str | None:
    """The database a connection of our own to `url` reaches (a pooler may name it otherwise than the URL does)."""
    from .catalog import Connection

    try:
        connection = Connection(url)
        try:
            return str(connection.rows("SELECT current_database()")[0][0])
        finally:
            connection.close()
    except Exception:  # cannot tell: env.py's own connection worked, so the URL's name stands
        return None


def _spelled_host(url: str) -> str | None:
    """The host of a URL as it is written (address() makes the loopback spellings equal)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).host or None
    except Exception:
        return None


def _show(where: tuple[str, int, str]) -> str:
    return "{}:{}/{}".format(*where)


def metadata_schemas(metadata: Any, default: str | None) -> set[str]:
    """The schemas of the models' tables (a table without a schema is in the connection's default one)."""
    found: set[str] = set()
    for item in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
        for table in getattr(item, "tables", {}).values():
            schema = table.schema or default
            if schema:
                found.add(schema)
    return found
