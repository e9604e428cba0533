"""Runs one Alembic operation for one service, in that service's interpreter and working folder.

This file is executed as a script, never imported by the package: it may use only the standard
library, Alembic and SQLAlchemy, because the service's interpreter need not have dbtasks installed.
It reads a JSON request on stdin and writes one JSON result to the file descriptor the request names.
It keeps to Python 3.8 syntax at run time, since a service's interpreter may be older than ours.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import select
import signal
import sys
import threading
import traceback
from typing import Any

# Running `python worker.py` puts this folder first on sys.path; the service's own modules must win.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]


class Failure(Exception):
    """A classified failure: `kind` tells the parent which one-line message to build."""

    def __init__(self, kind: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.data = data


def _interrupt_once(signum: int, frame: Any) -> None:
    # The first Ctrl-C stops the migration; later ones must not break the rollback that follows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


# psycopg2 connections env.py opened: a Python signal handler only runs once the query in progress
# returns, so a watcher thread cancels that query (cancel() is safe from another thread).
_CANCELLABLE: list[Any] = []


def _watch(wakeup: int) -> None:
    """Stop promptly on Ctrl-C (a byte on `wakeup`) or when the parent dies (end of file on stdin: it keeps
    our stdin open while it runs, so after kill -9 we stop as Ctrl-C would)."""
    watched = [0, wakeup]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if wakeup in ready:
            os.read(wakeup, 512)
            for connection in list(_CANCELLABLE):
                with contextlib.suppress(Exception):
                    connection.cancel()
        if 0 in ready and not os.read(0, 65536):  # unbuffered: a buffered reader would block interpreter shutdown
            watched.remove(0)
            os.kill(os.getpid(), signal.SIGINT)


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:  # a fork server: see forkserver.py
        return int(_sibling("worker_serve").serve(int(sys.argv[2]), run_request))
    return run_request(json.loads(sys.stdin.readline()))


def run_request(request: dict[str, Any]) -> int:
    """Run one request and write its result to the request's result_fd (stdin: the parent's lifeline)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(wakeup_read,), daemon=True).start()
    result_fd = int(request["result_fd"])
    worker = None
    try:
        worker = Worker(request)
        payload = {"ok": True, "data": worker.run()}
    except Failure as failure:
        payload = {"ok": False, "kind": failure.kind, "message": str(failure), "data": failure.data}
    except BaseException as error:  # every failure must reach the parent as data
        payload = {"ok": False, **classify(error), "traceback": traceback.format_exc()}
    if not payload["ok"] and worker is not None and worker.op in ("upgrade", "downgrade"):
        reached = where_it_stays(worker, payload["kind"])
        if reached is not None:
            payload["data"]["reached"] = reached
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        json.dump(payload, out)
    return 0


def _register_cancellable(connection: Any) -> None:
    dbapi = getattr(getattr(connection, "connection", None), "dbapi_connection", None)
    if dbapi is not None and type(dbapi).__module__.startswith("psycopg2") and dbapi not in _CANCELLABLE:
        _CANCELLABLE.append(dbapi)  # asyncpg needs none: asyncio turns Ctrl-C into a cancelled query itself


def where_it_stays(worker: Worker, kind: str) -> list[str] | None:
    """The revision a failed run left the service at: the last migration completed, else read back."""
    if worker.applied:
        return list(worker.applied[-1]["to"])
    if kind not in ("migration", "interrupted"):
        return None
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the read-back
        worker.phase = "current"
        return worker.database_heads(worker.script())
    except Exception:
        return None


def classify(error: BaseException) -> dict[str, Any]:
    """Turn an exception raised by env.py, Alembic or the driver into kind + message + data."""
    text = f"{type(error).__name__}: {error}".strip()
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, ImportError):
        return {"kind": "import", "message": first, "data": {"module": error.name or ""}}
    if isinstance(error, KeyboardInterrupt):
        return {"kind": "interrupted", "message": "interrupted", "data": {}}
    if _is_connection_lost(error):
        return {"kind": "connection_lost", "message": _connection_reason(error), "data": {"revision": failing_revision(error)}}
    if _is_connection_error(error):
        return {"kind": "connect", "message": _connection_reason(error), "data": {}}
    revision = failing_revision(error)
    if revision is not None:
        # The server's words matter, SQLAlchemy's "(psycopg2.errors.QueryCanceled) " wrapper does not.
        return {"kind": "migration", "message": re.sub(r"^\([\w.]+\)\s*", "", first), "data": {"revision": revision}}
    from alembic.util import CommandError

    if isinstance(error, CommandError):
        return {"kind": "command", "message": first, "data": {}}
    return {"kind": "unexpected", "message": text.splitlines()[0], "data": {}}


def first_line(error: BaseException) -> str:
    """The error's first line; a database error keeps the server's message (without SQLAlchemy's
    "(psycopg2.errors.X) " prefix), anything else gets its type."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    stripped = re.sub(r"^\([\w.]+\)\s*", "", first)
    return stripped if stripped != first else f"{type(error).__name__}: {first}".rstrip(": ")


def _is_connection_error(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in {
            "InvalidPasswordError",
            "InvalidAuthorizationSpecificationError",
            "InvalidCatalogNameError",
            "CannotConnectNowError",
            "ConnectionDoesNotExistError",
            "gaierror",
        }:
            return True
        seen = seen.__cause__ or seen.__context__
    if "OperationalError" in names and "connection" in str(error).lower():
        return failing_revision(error) is None
    return False


_LOST = (
    "server closed the connection unexpectedly",
    "terminating connection",
    "connection already closed",
    "connection was closed in the middle of operation",
    "could not receive data from server",
    "ssl syscall error",
)


def _is_connection_lost(error: BaseException) -> bool:
    """The server went away during the run (restart, failover, network): not a fault of the migration."""
    seen: BaseException | None = error
    while seen is not None:
        text = str(seen).lower()
        if any(phrase in text for phrase in _LOST) or type(seen).__name__ in (
            "AdminShutdownError",
            "ConnectionDoesNotExistError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _connection_reason(error: BaseException) -> str:
    text = str(error).strip()
    text = re.sub(r"^\([\w.]+\)\s*", "", text)  # SQLAlchemy's "(psycopg2.OperationalError) " prefix
    text = text.split("\n(Background on this error")[0]
    return " ".join(text.split())


def failing_revision(error: BaseException) -> str | None:
    """The revision id of the migration file in whose code `error` was raised, if any."""
    tb = error.__traceback__
    found = None
    while tb is not None:
        globals_ = tb.tb_frame.f_globals
        if "revision" in globals_ and "down_revision" in globals_ and isinstance(globals_["revision"], str):
            found = globals_["revision"]
        tb = tb.tb_next
    return found


class Worker:
    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.op: str = request["op"]
        self.args: dict[str, Any] = request.get("args", {})
        self.schema: str = request["schema"]
        for folder in reversed(request.get("pythonpath", [])):
            sys.path.insert(0, folder)
        from alembic.config import Config

        self.sql_buffer = io.StringIO()
        self.config = Config(request["ini"], output_buffer=self.sql_buffer if self.op == "sql" else sys.stdout)
        url = os.environ.get(request["url_env"], "")
        # ConfigParser interpolates %, and a percent-encoded password contains it.
        self.config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        self.applied: list[dict[str, Any]] = []
        self.phase = self.op  # what env.py runs for now: verify goes through upgrade, downgrade and check
        self.version_table: dict[str, Any] = {}  # where env.py keeps alembic_version, as configured
        self.configured: dict[str, Any] = {}

    def run(self) -> Any:
        handler = getattr(self, f"op_{self.op}")
        self.patch_configure()
        return handler()

    # -- the patch that fences autogenerate and records applied steps --------------------------

    def patch_configure(self) -> None:
        """Wrap EnvironmentContext.configure: this process runs one service, so a patch is scoped to it."""
        from alembic.runtime.environment import EnvironmentContext

        original = EnvironmentContext.configure
        worker = self

        def configure(self: Any, *args: Any, **kw: Any) -> None:
            _register_cancellable(kw.get("connection"))
            worker.check_target(kw)
            worker.apply_settings(kw.get("connection"))
            if worker.phase in ("check", "generate"):
                worker.fence(kw)
            if worker.phase in ("upgrade", "downgrade", "stamp"):
                # One transaction per migration: a failure keeps the earlier ones applied and recorded.
                kw.setdefault("transaction_per_migration", True)
                kw["on_version_apply"] = worker.recorder(kw.get("on_version_apply"))
            original(self, *args, **kw)

        EnvironmentContext.configure = configure  # type: ignore[method-assign]

    def check_target(self, kw: dict[str, Any]) -> None:
        """Refuse to run when env.py would read or write another place than the one dbtasks reports."""
        connection = kw.get("connection")
        default = getattr(getattr(connection, "dialect", None), "default_schema_name", None)
        version_schema = kw.get("version_table_schema") or default
        self.version_table = {"table": kw.get("version_table") or "alembic_version", "schema": version_schema}
        self.configured = dict(kw)  # what env.py passed to context.configure, for doctor
        if version_schema is not None and version_schema != self.schema and self.op not in ("verify", "doctor"):  # they report it
            explicit = bool(kw.get("version_table_schema"))
            raise Failure("version_table", "version table elsewhere", found=version_schema, explicit=explicit)
        if connection is not None:
            expected = _address(os.environ.get(self.request["url_env"], ""))
            actual = _address(str(connection.engine.url))
            if expected and actual and expected != actual:
                raise Failure("wrong_database", "env.py connected elsewhere", expected=_show(expected), actual=_show(actual))
        if self.phase in ("check", "generate"):
            schemas = _metadata_schemas(kw.get("target_metadata"), default)
            if schemas and self.schema not in schemas:
                raise Failure("schema_mismatch", "models in other schemas", found=sorted(schemas))

    def apply_settings(self, connection: Any) -> None:
        """SET LOCAL the environment's timeouts in every transaction of env.py's connection (and the open one)."""
        settings = self.request.get("settings") or {}
        if connection is None or not settings or getattr(connection, "_dbtasks_settings", False):
            return
        from sqlalchemy import event

        statements = [f"SET LOCAL {name} = '{value}'" for name, value in sorted(settings.items())]

        def on_begin(conn: Any) -> None:
            for statement in statements:
                conn.exec_driver_sql(statement)

        event.listen(connection, "begin", on_begin)
        connection._dbtasks_settings = True
        if connection.in_transaction():
            on_begin(connection)

    def fence(self, kw: dict[str, Any]) -> None:
        """Make autogenerate see only this service's schema, whatever env.py asked for."""
        schema = self.schema
        connection = kw.get("connection")
        user_name_filter = kw.get("include_name")
        user_object_filter = kw.get("include_object")

        def default_schema() -> str | None:
            return getattr(getattr(connection, "dialect", None), "default_schema_name", None)

        def own(name: str | None) -> bool:
            return (name or default_schema()) == schema

        def include_name(name: Any, type_: str, parent_names: dict[str, Any]) -> bool:
            if type_ == "schema" and not own(name):
                return False
            if type_ != "schema" and "schema_name" in parent_names and not own(parent_names["schema_name"]):
                return False
            return user_name_filter(name, type_, parent_names) if user_name_filter else True

        def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
            table = obj if type_ == "table" else getattr(obj, "table", None)
            if table is not None and not own(getattr(table, "schema", None)):
                return False
            return user_object_filter(obj, name, type_, reflected, compare_to) if user_object_filter else True

        kw["include_schemas"] = True
        kw["include_name"] = include_name
        kw["include_object"] = include_object

    def recorder(self, user_callback: Any) -> Any:
        def on_version_apply(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            self.applied.append(
                {
                    "from": list(step.source_revision_ids),
                    "to": list(step.destination_revision_ids),
                    "upgrade": bool(step.is_upgrade),
                    "stamp": bool(step.is_stamp),
                    "doc": (step.up_revision.doc if step.up_revision is not None else "") or "",
                }
            )
            if user_callback is not None:
                user_callback(ctx=ctx, step=step, heads=heads, run_args=run_args)

        return on_version_apply

    # -- the script directory, checked before env.py runs ---------------------------------------

    def script(self) -> Any:
        from alembic.script import ScriptDirectory

        script = None
        try:
            script = ScriptDirectory.from_config(self.config)
            script.revision_map.heads  # noqa: B018 - builds the map, raising on a broken chain
        except Exception as error:
            # Alembic answers a missing down_revision with a bare KeyError: read the files to name it.
            broken = _sibling("history").find_broken_chain(_version_files(script)) if script is not None else None
            if broken:
                raise Failure("broken_chain", "down_revision defined by no file", **broken) from None
            if isinstance(error, (ImportError, SyntaxError)):
                raise
            raise Failure("history", f"{type(error).__name__}: {error}".splitlines()[0]) from None
        return script

    def single_head(self, script: Any) -> str | None:
        heads = list(script.get_heads())
        if len(heads) > 1:
            raise Failure("multiple_heads", "multiple heads", heads=sorted(heads))
        return heads[0] if heads else None

    def resolve(self, script: Any, revision: str | None, *, relative_ok: bool = True) -> None:
        """Raise a clear Failure for a revision argument no file defines (relative forms go to Alembic)."""
        if revision is None or revision in ("head", "heads", "base"):
            return
        if relative_ok and re.match(r"^([+-]\d+|(head|heads|base|\w+)[+-]\d+)$", revision):
            return
        try:
            found = script.get_revisions(revision)
        except Exception as error:
            raise Failure("unknown_revision", str(error).splitlines()[0], revision=revision) from None
        if not found:
            raise Failure("unknown_revision", f"no revision {revision!r}", revision=revision)

    def environment(self, script: Any, fn: Any, **kw: Any) -> None:
        from alembic.runtime.environment import EnvironmentContext

        with EnvironmentContext(self.config, script, fn=fn, **kw):
            script.run_env()

    def database_heads(self, script: Any) -> list[str]:
        found: list[str] = []

        def fn(rev: Any, context: Any) -> list[Any]:
            found.extend(context.get_current_heads())
            return []

        self.environment(script, fn, dont_mutate=True)
        return found

    def run_command(self, command: Any, *args: Any, **kw: Any) -> None:
        from alembic.util import CommandError

        try:
            command(self.config, *args, **kw)
        except CommandError as error:
            text = str(error)
            missing = re.search(r"Can't locate revision identified by '([^']+)'", text)
            if missing:
                raise Failure("unknown_database_revision", text, revision=missing.group(1)) from None
            if "Multiple heads" in text or "multiple heads" in text:
                raise Failure("multiple_heads", text, heads=[]) from None
            if re.search(r"Relative revision \S+ didn't produce", text):
                raise Failure("out_of_range", text, revision=args[0] if args else None) from None
            raise

    # -- operations -----------------------------------------------------------------------------

    def op_upgrade(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        target = self.args.get("to") or "head"
        if target == "head":
            self.single_head(script)
        self.resolve(script, target)
        self.run_command(command.upgrade, target)
        return {"applied": self.applied, "head": list(script.get_heads())}

    def op_downgrade(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        target = self.args.get("to") or "-1"
        self.resolve(script, target)
        self.run_command(command.downgrade, target)
        return {"applied": self.applied}

    def op_stamp(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        revision = self.args["revision"]
        if revision == "head":
            self.single_head(script)
        self.resolve(script, revision, relative_ok=False)
        try:
            self.run_command(command.stamp, revision)
        except Failure as failure:
            if failure.kind != "unknown_database_revision":
                raise
            # The recorded revision is one no file defines: replace it (the user confirmed with --yes).
            command.stamp(self.config, revision, purge=True)
        # Read back what is recorded now: relative targets (-1) and purges make the steps a poor summary.
        return {"applied": self.applied, "current": self.database_heads(script)}

    def op_current(self) -> dict[str, Any]:
        script = self.script()
        current = self.database_heads(script)
        return {"current": current, "head": list(script.get_heads())}

    def op_status(self) -> dict[str, Any]:
        script = self.script()
        heads = list(script.get_heads())
        current = self.database_heads(script)
        known = [rev for rev in current if _defines(script, rev)]
        pending = None
        if len(heads) == 1 and len(current) <= 1 and len(known) == len(current):
            # iterate_revisions(upper, lower) excludes lower: exactly the revisions still to apply
            pending = sum(1 for _ in script.iterate_revisions(heads[0], current[0] if current else "base"))
        return {"current": current, "head": heads, "pending": pending, "unknown": [r for r in current if r not in known]}

    def op_heads(self) -> dict[str, Any]:
        return {"heads": list(self.script().get_heads())}

    def op_history(self) -> dict[str, Any]:
        script = self.script()
        heads = set(script.get_heads())
        revisions = []
        for rev in script.walk_revisions():
            revisions.append(
                {
                    "revision": rev.revision,
                    "down_revision": list(rev._normalized_down_revisions),
                    "doc": rev.doc or "",
                    "head": rev.revision in heads,
                    "path": rev.path,
                }
            )
        return {"revisions": revisions}

    def op_check(self) -> dict[str, Any]:
        script = self.script()
        head = self.single_head(script)
        diffs = self.autogenerate(script, head)
        return {"diffs": [describe(diff) for diff in diffs], "head": head}

    def op_generate(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        message = self.args["message"]
        if self.args.get("empty"):
            created = self.write(script, lambda: command.revision(self.config, message=message))
            return {"path": _path_of(created), "revision": _revision_of(created)}
        head = self.single_head(script)
        context = self.autogenerate_context(script)
        diffs = self.autogenerate(script, head, context)
        if not diffs:
            return {"path": None, "revision": None}
        created = self.write(script, lambda: list(context.generate_scripts()))
        return {"path": _path_of(created), "revision": _revision_of(created), "diffs": [describe(d) for d in diffs]}

    def write(self, script: Any, create: Any) -> Any:
        """Run `create`; if it fails after writing the file (a post-write hook), name the file left behind."""
        before = _version_files(script)
        try:
            return create()
        except Exception as error:
            written = sorted(_version_files(script) - before)
            if not written:
                raise
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            raise Failure("post_write", reason, path=written[-1]) from None

    def op_merge(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        heads = list(script.get_heads())
        if len(heads) < 2:
            raise Failure("nothing_to_merge", "only one head", heads=heads)
        created = command.merge(self.config, "heads", message=self.args.get("message") or "merge heads")
        return {"path": _path_of(created), "revision": _revision_of(created), "heads": heads}

    def op_sql(self) -> dict[str, Any]:
        from alembic import command

        script = self.script()
        start, end = self.args.get("from"), self.args.get("to") or "head"
        if end == "head":
            self.single_head(script)
        self.resolve(script, start, relative_ok=False)
        self.resolve(script, end, relative_ok=False)
        downgrade = (end == "base" and start is not None) or (start is not None and _is_ancestor(script, end, start))
        if downgrade:
            self.run_command(command.downgrade, f"{start}:{end}", sql=True)
        else:
            self.run_command(command.upgrade, f"{start}:{end}" if start else end, sql=True)
        return {"sql": self.sql_buffer.getvalue(), "direction": "downgrade" if downgrade else "upgrade"}

    def op_verify(self) -> dict[str, Any]:
        checks = _sibling("worker_verify")
        return dict(checks.Verification(self, sys.modules[__name__], _sibling("catalog")).run())

    def op_doctor(self) -> dict[str, Any]:
        diagnosis = _sibling("worker_doctor")
        return dict(diagnosis.Diagnosis(self, sys.modules[__name__]).run())

    # -- autogenerate -----------------------------------------------------------------------------

    def autogenerate_context(self, script: Any) -> Any:
        from alembic.autogenerate.api import RevisionContext

        return RevisionContext(
            self.config,
            script,
            dict(
                message=self.args.get("message"),
                autogenerate=True,
                sql=False,
                head="head",
                splice=False,
                branch_label=None,
                version_path=None,
                rev_id=None,
                depends_on=None,
            ),
        )

    def autogenerate(self, script: Any, head: str | None, context: Any = None) -> list[Any]:
        """Run env.py with autogenerate, after checking the database is at `head`."""
        context = context or self.autogenerate_context(script)

        def fn(rev: Any, migration_context: Any) -> list[Any]:
            current = list(migration_context.get_current_heads())
            if current != ([head] if head else []):
                unknown = [r for r in current if not _defines(script, r)]
                if unknown:
                    raise Failure("unknown_database_revision", "unknown revision", revision=unknown[0])
                raise Failure("not_at_head", "database is not at head", current=current, head=head)
            context.run_autogenerate(rev, migration_context)
            return []

        self.environment(script, fn, as_sql=False, template_args=context.template_args, revision_context=context)
        diffs: list[Any] = []
        for ops in context.generated_revisions[-1].upgrade_ops_list:
            diffs.extend(ops.as_diffs())
        return diffs


def _sibling(name: str) -> Any:
    """A module of this folder, loaded by path: the folder itself stays off sys.path."""
    import importlib.util

    qualified = f"_dbtasks_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            qualified, os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def _address(url: str) -> tuple[str, int, str] | None:
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


def _show(address: tuple[str, int, str]) -> str:
    return "{}:{}/{}".format(*address)


def _metadata_schemas(metadata: Any, default: str | None) -> set[str]:
    """The schemas of the models' tables (a table without a schema is in the connection's default one)."""
    found: set[str] = set()
    for item in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
        for table in getattr(item, "tables", {}).values():
            schema = table.schema or default
            if schema:
                found.add(schema)
    return found


def _version_files(script: Any) -> set[str]:
    import glob

    folders = getattr(script, "_version_locations", None) or [script.versions]  # several when version_locations is set
    return {path for folder in folders for path in glob.glob(os.path.join(str(folder), "*.py"))}


def _defines(script: Any, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False


def _is_ancestor(script: Any, older: str, newer: str) -> bool:
    try:
        return any(True for _ in script.iterate_revisions(newer, older)) and older != newer
    except Exception:
        return False


def _path_of(created: Any) -> str | None:
    scripts = created if isinstance(created, list) else [created]
    return scripts[-1].path if scripts and scripts[-1] is not None else None


def _revision_of(created: Any) -> str | None:
    scripts = created if isinstance(created, list) else [created]
    return scripts[-1].revision if scripts and scripts[-1] is not None else None


def describe(diff: Any) -> str:
    """One readable line for an autogenerate diff tuple (or list of modify tuples)."""
    if isinstance(diff, list):
        return "; ".join(describe(item) for item in diff)
    kind = diff[0]
    words = kind.replace("_", " ")
    if kind in ("add_table", "remove_table"):
        return f"{words} {_qualified(diff[1])}"
    if kind in ("add_column", "remove_column"):
        return f"{words} {_name(diff[1], diff[2])}.{diff[3].name}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = diff[1]
        table = getattr(obj, "table", None)
        where = f" on {_qualified(table)}" if table is not None else ""
        return f"{words} {obj.name or '(unnamed)'}{where}"
    if kind.startswith("modify_"):
        schema, table, column, _existing, old, new = diff[1:7]
        return f"{words} {_name(schema, table)}.{column}: {old!r} -> {new!r}"
    if kind in ("add_table_comment", "remove_table_comment"):
        return f"{words} {_qualified(diff[1])}"
    return " ".join(str(part) for part in diff)


def _qualified(table: Any) -> str:
    return _name(getattr(table, "schema", None), getattr(table, "name", str(table)))


def _name(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


if __name__ == "__main__":
    sys.exit(main())
