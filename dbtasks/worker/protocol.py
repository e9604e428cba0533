"""The one vocabulary the parent and a worker share: operations, the request, the result, failure kinds.

A request travels as one JSON object (on the worker's stdin, or over the fork server's socket); the
result comes back as one JSON object on the pipe the request names. Imported by the parent
(dbtasks.runner, dbtasks.explain) and by the worker; standard library only, Python 3.8 at run time.
"""

from __future__ import annotations

from typing import Any, TypedDict

# Every operation a worker runs, by the name a request gives it (the functions are in ops.py).
OPS = (
    "upgrade",
    "downgrade",
    "stamp",
    "current",
    "status",
    "heads",
    "history",
    "check",
    "generate",
    "merge",
    "sql",
    "verify",
    "doctor",
    "revision_sql",
    "checksums",
    "match",
)
# Operations that write alembic_version or the schema: the parent holds the migration lock around them,
# and the worker records each step they apply (one transaction per migration).
WRITING_OPS = frozenset(("upgrade", "downgrade", "stamp"))
# Operations whose failure part-way leaves the service at a revision worth naming.
MIGRATING_OPS = frozenset(("upgrade", "downgrade"))
# Phases in which autogenerate runs: its view is fenced to the service's schema.
AUTOGENERATE_PHASES = frozenset(("check", "generate"))
# Operations that report a foreign version table instead of refusing to run.
REPORTING_OPS = frozenset(("verify", "doctor"))

# What a fork server imports for the drivers of the services it will fork for, beside Alembic, SQLAlchemy and
# psycopg2 (serve.py): a child that needs a driver its server did not import imports it itself.
# psycopg2.extras: SQLAlchemy's psycopg2 dialect imports it as it connects (about 2 ms of each forked child).
DRIVER_MODULES = {"asyncpg": ("asyncpg", "sqlalchemy.ext.asyncio"), "psycopg": ("psycopg",), "psycopg2": ("psycopg2.extras",)}

# Why a run failed. The worker sends one of these; dbtasks.explain words each one with its next step.
KINDS = (
    "multiple_heads",  # more than one head where one is needed
    "unknown_revision",  # a revision argument no migration file defines (bad input)
    "out_of_range",  # a relative revision (+2, -1) past the first or last one (bad input)
    "unknown_database_revision",  # alembic_version holds a revision no file defines
    "not_at_head",  # check/generate on a database behind head
    "broken_chain",  # a down_revision no file defines
    "history",  # the migration files cannot be read
    "import",  # env.py (or the interpreter) cannot import a module
    "connect",  # the database refuses or cannot be reached
    "connection_lost",  # the connection dropped during the run
    "migration",  # a migration's own code failed
    "nothing_to_merge",  # merge with a single head
    "post_write",  # the file was written, alembic.ini's post-write hook failed
    "version_table",  # env.py keeps alembic_version elsewhere than migrations.yaml says
    "wrong_database",  # env.py connected to another database than the one handed to it
    "schema_mismatch",  # none of the models is in the service's schema
    "no_models",  # env.py passes no target_metadata: nothing to compare (check and drift skip, generate needs --empty)
    "interrupted",  # Ctrl-C, or the parent went away
    "lock_lost",  # the parent's migration lock is no longer held: the migration is rolled back instead of committed
    "edited",  # an applied revision's file differs from the checksum recorded when it was applied
    "checksum_table",  # dbtasks_state.checksums cannot take the row (damaged, or not ours to create): the step is rolled back
    "not_applied",  # checksums --accept of a revision the database has not applied (bad input)
    "extension_missing",  # migrations.yaml names an extension the server does not have
    "extension_denied",  # the role may not create an extension migrations.yaml names
    "prepare",  # a prepare file failed (rolled back)
    "bootstrap_metadata",  # bootstrap's metadata cannot be loaded
    "bootstrap_import",  # the module bootstrap's metadata lives in fails while it is imported
    "bootstrap_occupied",  # bootstrap on a database that already holds the service's tables
    "alembic_too_old",  # the configuration needs a newer Alembic than the service's interpreter has
    "command",  # any other alembic CommandError
    "unexpected",  # anything else: a bug or an unusual env.py
)


class Request(TypedDict):
    """What the parent asks a worker to do, for one service."""

    op: str
    service: str
    schema: str  # its first schema
    bookkeeping_schema: str  # dbtasks' own schema (its checksums), never a service's: migrations.yaml's bookkeeping_schema
    schemas: list[str]  # every schema it owns
    shared: list[str]  # those of its schemas that other services in its database own too (see ownership.py)
    version_table: list[str]  # [schema, table] where its env.py must keep alembic_version
    hand_version_table: list[str] | None  # [schema, table] migrations.yaml declares: set in configure when env.py passes none
    foreign_version_tables: list[list[str]]  # [schema, table] of the other services in its database
    create_schemas: bool  # create its missing schemas before an upgrade or stamp writes anything
    ini: str  # alembic.ini, absolute (it may not exist when pyproject.toml holds the configuration)
    ini_section: str  # the ini's section Alembic reads (alembic -n NAME; "alembic" by default)
    toml: str | None  # pyproject.toml whose [tool.alembic] Alembic reads after the ini (Alembic >= 1.16), or None
    extensions: list[str]  # created when missing before an upgrade (migrations.yaml's extensions)
    prepare: list[str]  # .sql files run before the first revision, when none is applied (absolute)
    engines: dict[str, str]  # multidb: engine name -> its URL, set as sqlalchemy.url of the ini's [engine] section
    branch: str | None  # one branch (branch_labels) of a shared environment: targets spelled LABEL@...
    bootstrap: str | None  # module:Base.metadata: upgrade from an empty database runs create_all, then stamps head
    url_env: str  # the variable env.py reads the URL from (the parent sets it)
    pythonpath: list[str]  # folders put first on sys.path
    settings: dict[str, str]  # SET LOCAL in every migration transaction (statement_timeout, lock_timeout)
    args: dict[str, Any]  # the operation's own arguments
    x: list[str]  # Alembic's -x arguments (name=value), for context.get_x_argument()
    lock: list[int]  # [server pid, classid, objid] of the parent's migration lock (empty: none); checked before each commit
    result_fd: int  # where the result goes (set by whoever starts the process)


class Result(TypedDict, total=False):
    """What a worker answers: ok and data, or kind, message and data (and the traceback of an unclassified error)."""

    ok: bool
    data: dict[str, Any]
    kind: str
    message: str
    traceback: str


def succeeded(data: dict[str, Any]) -> Result:
    return {"ok": True, "data": data}


def failed(kind: str, message: str, data: dict[str, Any] | None = None, traceback: str | None = None) -> Result:
    result: Result = {"ok": False, "kind": kind if kind in KINDS else "unexpected", "message": message, "data": data or {}}
    if traceback:
        result["traceback"] = traceback
    return result
