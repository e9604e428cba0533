"""The checks of `doctor` for one service, run in the service's interpreter.

Nothing here writes: env.py runs with `dont_mutate` (Alembic
creates no alembic_version) and a migration function that applies nothing, or, when the parent could
not reach the database, offline (`--sql` into a buffer that is thrown away) so that what env.py passes
to context.configure can still be checked. env.py's own CREATE SCHEMA IF NOT EXISTS still runs online.

The result is {"findings": [{"level", "message"} or {"level", "failure": {"kind", "message", "data"}}],
"facts": {...}}: a failure is explained by the parent with the same words the tasks use.
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
from typing import Any

from . import branches, engine_files
from .checksums import legacy_table
from .failures import Failure, classify, first_line
from .operation import Operation, defines, pending_count
from .ownership import unfenced

# What each driver needs in the service's interpreter, besides Alembic and SQLAlchemy.
DRIVER_MODULES = {"asyncpg": ("asyncpg", "greenlet"), "psycopg2": ("psycopg2",), "psycopg": ("psycopg",)}
PIP_NAMES = {"psycopg2": "psycopg2-binary", "psycopg": "'psycopg[binary]'"}
WHY = {"greenlet": " (SQLAlchemy needs it to run asyncpg; sqlalchemy[asyncio] brings it)"}


class Diagnosis:
    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.name = operation.service
        self.schema = operation.schema
        self.driver: str = operation.args.get("driver") or ""
        self.offline = not operation.args.get("reachable", True)  # the parent could not connect
        self.owners: dict[str, str] = dict(operation.args.get("owners") or {})  # schema -> service
        self.depends_on: list[str] = list(operation.args.get("depends_on") or [])
        self.findings: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}
        self.database: dict[str, Any] = {}  # what the migration function saw, online

    def run(self) -> dict[str, Any]:
        installed = self.requirements()
        script, history_ok = self.history()
        self.source(script)
        # Without the driver, env.py fails on its import or its connection: the missing module says it better.
        if installed and script is not None and self.environment(script):
            self.models()
            placed = self.version_table()
            if history_ok and placed and self.database:
                self.revisions(script)
        if not self.offline:
            self.extensions()
        return {"findings": self.findings, "facts": self.facts}

    def extensions(self) -> None:
        """migrations.yaml's extensions: present, or created by the next upgrade, or missing from the server."""
        names = list(self.operation.request.get("extensions") or [])
        if not names:
            return
        from .catalog import Connection

        listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
        try:
            connection = Connection(self.operation.url)
            try:
                present = {row[0] for row in connection.rows(f"SELECT extname FROM pg_extension WHERE extname IN ({listed})")}
                available = {
                    row[0] for row in connection.rows(f"SELECT name FROM pg_available_extensions WHERE name IN ({listed})")
                }
            finally:
                connection.close()
        except Exception as error:  # the connection problem is said elsewhere, once
            self.add("warning", f"extensions not checked: {first_line(error)}")
            return
        for name in names:
            if name in present:
                self.add("ok", f"extension {name} is created")
            elif name in available:
                self.add("ok", f"extension {name} is not created yet; upgrade creates it (the role needs CREATE on the database)")
            else:
                self.failure("extension_missing", extension=name)

    # -- results --------------------------------------------------------------------------------------

    def add(self, level: str, message: str) -> None:
        self.findings.append({"level": level, "message": message})

    def failed(self, error: BaseException) -> None:
        """An error the parent words as the tasks do (dbtasks.explain), from a Failure or classify()."""
        self.findings.append({"level": "error", "failure": classify(error)})

    def failure(self, kind: str, message: str = "", **data: Any) -> None:
        self.failed(Failure(kind, message or kind, **data))

    # -- the interpreter ------------------------------------------------------------------------------

    def requirements(self) -> bool:
        """Alembic is there (this code runs under it); the rest is found without importing it."""
        needed = ["sqlalchemy", *DRIVER_MODULES.get(self.driver, ())]
        missing = [module for module in needed if importlib.util.find_spec(module) is None]
        for module in missing:
            self.add(
                "error",
                f"{module} is not installed in {sys.executable}{WHY.get(module, '')}; install it there "
                f"(pip install {PIP_NAMES.get(module, module)}) or set 'python' in migrations.yaml to an interpreter that has it",
            )
        if not missing:
            import alembic
            import sqlalchemy

            have = [f"alembic {alembic.__version__}", f"sqlalchemy {sqlalchemy.__version__}", *needed[1:]]
            self.add("ok", f"{sys.executable} has {', '.join(have[:-1])} and {have[-1]}")
        return not missing

    # -- the migration files --------------------------------------------------------------------------

    def history(self) -> tuple[Any, bool]:
        """The script directory (None if unreadable) and whether its history is one unbroken line."""
        try:
            script = self.operation.script()
        except Exception as error:
            if isinstance(error, (Failure, ImportError)):
                self.failed(error)
            else:
                self.failure("history", message=first_line(error))
            return self.bare_script(), False
        heads = branches.heads(script, self.operation.branch)  # one branch of a shared environment: its own
        if len(heads) > 1:
            self.failure("multiple_heads", heads=heads)
            return script, False
        count = sum(1 for _ in script.walk_revisions())
        self.add(
            "ok",
            f"history: {count} migration{'s' if count != 1 else ''}, head {heads[0]}" if heads else "history: no migrations yet",
        )
        return script, True

    def bare_script(self) -> Any:
        """The folder without its revision map: env.py can still run when a file is broken."""
        from alembic.script import ScriptDirectory

        try:
            return ScriptDirectory.from_config(self.operation.config)
        except Exception:
            return None

    def source(self, script: Any) -> None:
        """env.py's text, for what runs but is deprecated (the original guides' meals service)."""
        if script is None:
            return
        try:
            with open(script.env_py_location, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return
        for number, line in enumerate(lines, 1):
            if re.search(r"\bAsyncEngine\s*\(", line.split("#", 1)[0]):
                self.add(
                    "warning",
                    f"env.py line {number} calls the AsyncEngine(...) constructor, which is deprecated; use "
                    f"create_async_engine(url, poolclass=pool.NullPool) from sqlalchemy.ext.asyncio",
                )
                return

    # -- env.py -----------------------------------------------------------------------------------------

    def environment(self, script: Any) -> bool:
        """Run env.py without applying anything; True when it reached context.configure."""
        try:
            if self.offline:  # the multidb template's <engine>.sql files get buffers: nothing is written
                with engine_files.captured(self.operation.request.get("engines")):
                    self.run_offline(script)
            else:
                self.operation.run_env_py(script, lambda rev, context: self.inspect(script, rev, context), dont_mutate=True)
        except Exception as error:
            self.env_failed(error)
        return bool(self.operation.configured)

    def inspect(self, script: Any, rev: Any, context: Any) -> list[Any]:
        """The migration function: reads the revision and the schema's tables, and applies nothing."""
        from sqlalchemy import inspect

        connection = context.connection
        self.database = {
            "current": branches.mine(script, self.operation.branch, context.get_current_heads()),
            "tables": sorted(inspect(connection).get_table_names(schema=self.schema)),
            "default_schema": connection.dialect.default_schema_name,
        }
        return []

    def run_offline(self, script: Any) -> None:
        config = self.operation.config
        saved, config.output_buffer = config.output_buffer, io.StringIO()  # the SQL env.py renders is not wanted
        try:
            self.operation.run_env_py(script, lambda rev, context: [], as_sql=True)
        finally:
            config.output_buffer = saved

    def env_failed(self, error: BaseException) -> None:
        text = str(error)
        if "unexpected keyword argument 'sslmode'" in text:
            self.add("error", self.sslmode_advice(first_line(error)))
        elif "permission denied for database" in text:
            self.add(
                "error",
                f"env.py fails: {first_line(error)}; CREATE SCHEMA (even IF NOT EXISTS, even when {self.schema!r} "
                f"exists) needs CREATE on the database: grant it, or create the schema as an admin and drop that "
                f"statement from env.py",
            )
        elif "permission denied" in text:
            self.add(
                "error",
                f"env.py fails: {first_line(error)}; grant that right to the user of the URL, or connect as the owner",
            )
        elif isinstance(error, Failure) or classify(error)["kind"] != "unexpected":
            self.failed(error)
        else:
            self.add(
                "error",
                f"env.py fails: {first_line(error)}; run 'inv db.current {self.name}' with DBTASKS_DEBUG=1 for the traceback",
            )

    def sslmode_advice(self, reason: str) -> str:
        url_env = self.operation.request["url_env"]
        if self.driver != "asyncpg":
            fix = f"declare 'driver: asyncpg' for {self.name} in migrations.yaml so that dbtasks hands it ssl= instead"
        else:
            fix = (
                f"env.py does not use the URL dbtasks hands it in {url_env} (that one carries ssl=): make it read "
                f"{url_env}, or rewrite sslmode= to ssl= where env.py builds its URL"
            )
        return f"env.py passes sslmode to asyncpg, which rejects it ({reason}); {fix}"

    # -- what env.py passed to context.configure --------------------------------------------------------

    def models(self) -> None:
        metadata = self.operation.configured.get("target_metadata")
        if metadata is None:
            self.add(
                "warning",
                "env.py passes no target_metadata: autogenerate and check cannot see the models; import them in "
                "env.py and pass target_metadata=Base.metadata to context.configure (a service with hand-written "
                "migrations only can leave it: check then skips the comparison and generate needs --empty)",
            )
            return
        tables = [table for item in _as_list(metadata) for table in getattr(item, "tables", {}).values()]
        if not tables:
            self.add(
                "warning",
                "target_metadata holds no tables: env.py does not import the models, so autogenerate sees nothing "
                "(and would drop every table); import the modules that define them in env.py",
            )
            return
        unfiltered = unfenced(self.operation.configured, list(self.operation.ownership.schemas))
        if unfiltered:
            self.add("warning", unfiltered)
        default = self.database.get("default_schema")
        self.operation.ownership.learn_models(metadata, default, self.operation.configured.get("include_object"))
        by_schema: dict[Any, list[str]] = {}
        for table in tables:
            by_schema.setdefault(table.schema or default, []).append(table.name)
        self.model_schemas(by_schema)

    def model_schemas(self, by_schema: dict[Any, list[str]]) -> None:
        own = [name for schema in self.operation.ownership.schemas for name in by_schema.pop(schema, [])]
        unknown = by_schema.pop(None, [])  # offline: the connection's default schema is not known
        if not own and not unknown:
            self.failure("schema_mismatch", found=sorted(by_schema))
            return
        for schema, names in sorted(by_schema.items()):
            owner = self.owners.get(schema)
            if owner in self.depends_on:  # tables a foreign key refers to, described so SQLAlchemy can resolve it
                self.add(
                    "ok",
                    f"the models also describe {_some(names)} of schema {schema!r}, which {owner!r} owns and "
                    f"{self.name!r} depends on: check and generate leave them to {owner!r}",
                )
                continue
            whose = f"which service {owner!r} owns" if owner else "which no service in migrations.yaml owns"
            self.add(
                "warning",
                f"the models also define {_some(names)} in schema {schema!r}, {whose}: check and generate only see "
                f"{self.schema!r}, so nothing migrates them here; keep each schema's models in one service",
            )
        count, mine = len(own) + len(unknown), ", ".join(repr(schema) for schema in self.operation.ownership.schemas)
        self.add("ok", f"models: {count} table{'s' if count != 1 else ''} in {mine}")

    def version_table(self) -> bool:
        """Report where the version table lives; True when it is where migrations.yaml expects it."""
        where = self.operation.version_table
        schema, table = where.get("schema"), where.get("table") or "alembic_version"
        explicit = bool(self.operation.configured.get("version_table_schema"))
        self.facts["version_table"] = {"schema": schema, "table": table, "explicit": explicit}
        wanted_schema, wanted_table = self.operation.ownership.version_table
        if schema is None:
            self.add(
                "warning",
                f"env.py passes no version_table_schema: {table} goes to the connection's default schema "
                f"(public unless search_path says otherwise; not checked without a database); pass "
                f"version_table_schema={wanted_schema!r} to context.configure",
            )
            return False
        if (schema, table) != (wanted_schema, wanted_table):
            self.failure(
                "version_table", found=f"{schema}.{table}", expected=f"{wanted_schema}.{wanted_table}", explicit=explicit
            )
            return False
        if self.operation.handed:
            self.add(
                "warning",
                f"env.py passes no {' or '.join(self.operation.handed)}: dbtasks hands it {schema}.{table} (migrations.yaml's "
                f"version_table), but plain alembic in this folder keeps its own elsewhere; pass version_table_schema="
                f"{schema!r}, version_table={table!r} to context.configure so that both agree",
            )
        elif not explicit and schema != "public":
            self.add(
                "warning",
                f"env.py passes no version_table_schema: {table} lands in {schema!r} only because search_path "
                f"puts it first; pass version_table_schema={schema!r} to context.configure",
            )
        else:
            self.add("ok", f"{'alembic_version' if table == 'alembic_version' else 'the version table'} is {schema}.{table}")
        return True

    # -- the database against the files ------------------------------------------------------------------

    def revisions(self, script: Any) -> None:
        current: list[str] = self.database["current"]
        heads = branches.heads(script, self.operation.branch)
        head = heads[0] if heads else None
        unknown = [revision for revision in current if not defines(script, revision)]
        if unknown:
            self.failure("unknown_database_revision", revision=unknown[0])
        elif not current:
            self.not_initialized(script, head)
        elif current == [head]:
            self.add("ok", f"database at head {head}")
        else:
            count = _pending(script, head, current)
            pending = f"{count} migration{'s' if count != 1 else ''} pending" if count else "migrations pending"
            self.add(
                "warning",
                f"database at {', '.join(current)}, head is {head}: {pending}; run 'inv db.upgrade {self.name}'",
            )

    def not_initialized(self, script: Any, head: str | None) -> None:
        version_table = self.facts["version_table"]["table"]
        ownership = self.operation.ownership
        ownership.learn_migrations(self.database.get("default_schema"))
        tables = [
            name
            for name in self.database["tables"]
            if name not in (version_table, legacy_table(version_table)) and ownership.owns(self.schema, name)
        ]
        exists = version_table in self.database["tables"]
        recorded = f"its {version_table} records no revision" if exists else f"no {version_table}"
        if tables:
            self.add(
                "warning",
                f"schema {self.schema!r} already holds {_some(tables)} but {recorded} (created before Alembic, e.g. by "
                f"metadata.create_all, or left by stamp base): 'inv db.upgrade {self.name}' would fail with \"relation already exists\"; "
                f"'inv db.adopt --service {self.name}' finds the revision they are and records it",
            )
        elif head is None:
            self.add("ok", "no migrations and an empty schema: nothing to apply")
        else:
            count = _pending(script, head, [])
            self.add(
                "warning",
                f"database not initialized: {count} migration{'s' if count != 1 else ''} pending; run 'inv db.upgrade {self.name}'",
            )


def _pending(script: Any, head: str | None, current: list[str]) -> int:
    """How many revisions lie between the database and head (0 when Alembic cannot tell)."""
    try:
        return pending_count(script, head, current)
    except Exception:
        return 0


def _as_list(metadata: Any) -> list[Any]:
    return list(metadata) if isinstance(metadata, (list, tuple)) else [metadata]


def _some(names: list[str], limit: int = 3) -> str:
    """'2 tables (a, b)' or '5 tables (a, b, c, ...)'."""
    shown = ", ".join(sorted(names)[:limit]) + (", ..." if len(names) > limit else "")
    return f"{len(names)} table{'s' if len(names) != 1 else ''} ({shown})"
