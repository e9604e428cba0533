"""Checksums of applied revision files: what was applied, as it was, kept in dbtasks' own schema.

When a revision is applied (upgrade, stamp), its file's checksum is recorded in `dbtasks_state.checksums`, keyed by the
service's version table ("schema.table"), in the migration's own transaction; a downgrade deletes the rows of the
revisions it takes back. Nothing of ours is in a service's schemas, so plain `alembic check` and `--autogenerate`
see none of it. Earlier versions kept the rows in `<version table>_checksums` beside the version table: the next
writing run moves them (LEGACY_SUFFIX), in its own transaction. Comparing those rows with
the files tells which applied revisions were edited since. The checksum ignores line endings and trailing
whitespace (an editor's or git's doing, never a change to the migration).

The pure part (normalize, judge) is shared with the parent's fast path. Standard library only (SQLAlchemy and the
driver come from env.py's connection or catalog.Connection); Python 3.8 at run time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: collections.abc generics cannot be subscripted at run time on Python 3.8
    Recorded = Mapping[str, Mapping[str, Any]]  # revision -> {"checksum", "file", "applied_at", "applied_by"}

# Not "dbtasks": the embedded database's role is named so, and PostgreSQL's default search_path ("$user", public) would
# then put every unqualified name of the services' migrations in our schema. A role named like ours never creates it.
DEFAULT_SCHEMA, TABLE = "dbtasks_state", "checksums"  # migrations.yaml's bookkeeping_schema; no service may use it
SCHEMA = DEFAULT_SCHEMA
LEGACY_SUFFIX = "_checksums"
# The states of an applied revision (and of a recorded one no file defines).
OK, EDITED, UNKNOWN, MISSING = "ok", "edited", "unknown", "missing"
# Applied after recording began, yet without a row: the row was deleted, so an edit can no longer be ruled out; it
# counts as edited (check fails, a protected upgrade needs --allow-edited) until the checksum is accepted again.
UNRECORDED = "unrecorded"


def legacy_table(version_table: str) -> str:
    """Where earlier versions kept the checksums, beside `version_table`: alembic_version -> alembic_version_checksums."""
    return version_table + LEGACY_SUFFIX


def key_of(schema: str | None, version_table: str) -> str:
    """The rows' key: the service's version table as schema.table."""
    return f"{schema or 'public'}.{version_table}"


def normalize(data: bytes) -> bytes:
    """The file as the checksum sees it: LF line ends, no trailing whitespace on a line, no trailing blank lines."""
    lines = [line.rstrip() for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return b"\n".join(lines)


def checksum(data: bytes) -> str:
    import hashlib  # a cached checksum needs none: its import loads OpenSSL

    return hashlib.sha256(normalize(data)).hexdigest()


def file_checksum(path: str) -> str | None:
    """The checksum of the file at `path`, None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return checksum(handle.read())
    except OSError:
        return None


def judge(
    applied: Iterable[tuple[str, str | None]],
    recorded: Recorded | None,
    defined: Callable[[str], bool],
    sum_of: Callable[[str], str | None],
    folder: str,
) -> dict[str, Any]:
    """The verdict on the applied revisions ((revision, file) oldest first) against the recorded rows (None: no table).

    {"revisions": [{"revision", "state", "file", ...}], "edited": [{"revision", "file"}], "missing": [...],
    "unknown": [revision, ...], "table": bool}: a recorded revision no file defines is missing; an applied one
    without a row is unknown (applied before anything was recorded), never an error, unless an earlier one has a row:
    then its row was deleted (unrecorded), which counts as edited.
    """
    rows = dict(recorded or {})
    found: list[dict[str, Any]] = []
    recording = False  # a row was seen for an earlier applied revision: recording had begun
    for revision, path in applied:
        file = relative(path, folder) if path else None
        row = rows.get(revision)
        if row is None:
            found.append({"revision": revision, "state": UNRECORDED if recording else UNKNOWN, "file": file})
            continue
        recording = True
        current = sum_of(path) if path else None
        state = OK if current == row.get("checksum") else EDITED
        found.append({"revision": revision, "state": state, "file": file or row.get("file"), **_recorded(row)})
    listed = {entry["revision"] for entry in found}
    for revision in sorted(rows):
        if revision not in listed and not defined(revision):
            found.append(
                {"revision": revision, "state": MISSING, "file": rows[revision].get("file"), **_recorded(rows[revision])}
            )
    return {
        "revisions": found,
        "edited": [
            {"revision": e["revision"], "file": e["file"], **({"unrecorded": True} if e["state"] == UNRECORDED else {})}
            for e in found
            if e["state"] in (EDITED, UNRECORDED)
        ],
        "missing": [{"revision": e["revision"], "file": e["file"]} for e in found if e["state"] == MISSING],
        "unknown": [e["revision"] for e in found if e["state"] == UNKNOWN],
        "table": recorded is not None,
    }


def _recorded(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in ("checksum", "applied_at", "applied_by")}


def relative(path: str, folder: str) -> str:
    """`path` relative to the service folder (as recorded), with forward slashes."""
    try:
        found = os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows)
        found = path
    return found.replace(os.sep, "/")


def os_user() -> str:
    import getpass  # only a writing run needs it

    try:
        return getpass.getuser()
    except Exception:  # no user name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


# -- SQL --------------------------------------------------------------------------------------------


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def qualified(schema: str | None, table: str) -> str:
    return f"{quoted(schema)}.{quoted(table)}" if schema else quoted(table)


# CREATE SCHEMA/TABLE/EXTENSION IF NOT EXISTS is not safe under concurrency: two runs can both miss the object, and one
# then fails on the catalog's unique index. dbtasks' own creations (this table, prerequisites.py's schemas and
# extensions) take turns under this transaction-level advisory lock.
SCHEMA_LOCK = 1684173939  # b"dbts" as a number: the key of dbtasks' creations in every database
NAME = CREATE = ""  # set by use()
# Whether our table exists, read from the catalog tables rather than by name (to_regclass): a name not found stays
# "not found" in the session's catalog cache until it next takes a lock on a table, so a migration transaction that
# looked, then waited for SCHEMA_LOCK while another run made the table, would still miss the schema in CREATE ... IF
# NOT EXISTS and fail on the unique index (rolled back and run a second time).
_HAS_TABLE = ""  # set by use()


def state_sql(legacy: str) -> str:
    """(our table exists, the legacy table `legacy` exists, the role may create our table): one row."""
    return (
        f"SELECT {_HAS_TABLE}, to_regclass({literal(legacy)}) IS NOT NULL, "
        f"current_user <> {literal(SCHEMA)} AND COALESCE((SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace "
        f"WHERE nspname = {literal(SCHEMA)}), has_database_privilege(current_database(), 'CREATE'))"
    )


def move_sql(key: str, legacy: str) -> list[str]:
    """The legacy table's rows into ours (a row already there wins), then the legacy table dropped."""
    return [
        f"INSERT INTO {NAME} (version_table, revision, checksum, file, applied_at, applied_by) SELECT {literal(key)}, "
        f"revision, checksum, file, applied_at, applied_by FROM {legacy} ON CONFLICT (version_table, revision) DO NOTHING",
        f"DROP TABLE {legacy}",
    ]


def upsert_sql(key: str, revision: str, digest: str, file: str, by: str) -> str:
    """Record one revision's checksum (replacing an earlier row); `by` is the OS user, the database user is added."""
    values = ", ".join(literal(value) for value in (key, revision, digest, file))
    return (
        f"INSERT INTO {NAME} (version_table, revision, checksum, file, applied_by) VALUES ({values}, "
        f"current_user || ' (' || {literal(by)} || ')') ON CONFLICT (version_table, revision) DO UPDATE SET "
        "checksum = EXCLUDED.checksum, file = EXCLUDED.file, applied_at = now(), applied_by = EXCLUDED.applied_by"
    )


# The same two writes with bind parameters, for env.py's SQLAlchemy connection (sqlalchemy.text would read a ':' in a
# literal as a parameter, and a driver a '%').
BOUND_UPSERT = BOUND_DELETE = ""  # set by use()


def use(schema: str) -> None:
    """Name `schema` (migrations.yaml's bookkeeping_schema) in every statement of this module: a worker process runs
    one request, and sets it first."""
    global SCHEMA, NAME, CREATE, _HAS_TABLE, BOUND_UPSERT, BOUND_DELETE
    SCHEMA, NAME = schema, qualified(schema, TABLE)
    CREATE = (
        f"DO $$BEGIN PERFORM pg_advisory_xact_lock({SCHEMA_LOCK}); CREATE SCHEMA IF NOT EXISTS {quoted(SCHEMA)}; "
        f"CREATE TABLE IF NOT EXISTS {NAME} (version_table TEXT NOT NULL, revision VARCHAR(255) NOT NULL, "
        "checksum VARCHAR(64) NOT NULL, file TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
        "applied_by TEXT NOT NULL, PRIMARY KEY (version_table, revision)); END$$"
    )
    _HAS_TABLE = (
        f"EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {literal(SCHEMA)} "
        f"AND c.relname = {literal(TABLE)})"
    )
    BOUND_UPSERT = (
        f"INSERT INTO {NAME} (version_table, revision, checksum, file, applied_by) VALUES (:key, :revision, :checksum, "
        ":file, current_user || ' (' || :by || ')') ON CONFLICT (version_table, revision) DO UPDATE SET "
        "checksum = EXCLUDED.checksum, file = EXCLUDED.file, applied_at = now(), applied_by = EXCLUDED.applied_by"
    )
    BOUND_DELETE = f"DELETE FROM {NAME} WHERE version_table = :key AND revision = :revision"


def select_sql(key: str) -> str:
    return f"SELECT revision, checksum, file, applied_at::text, applied_by FROM {NAME} WHERE version_table = {literal(key)}"


def legacy_select_sql(legacy: str) -> str:
    return f"SELECT revision, checksum, file, applied_at::text, applied_by FROM {legacy}"


def as_recorded(rows: Iterable[Any]) -> dict[str, dict[str, Any]]:
    return {
        str(revision): {"checksum": digest, "file": file, "applied_at": at, "applied_by": by}
        for revision, digest, file, at, by in rows
    }


use(DEFAULT_SCHEMA)
