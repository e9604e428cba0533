"""One operation on one service's Alembic environment: its Config, the script directory, env.py runs.

The operations themselves (ops.py), verify's checks and doctor's checks all work through an Operation.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from typing import Any

from . import branches, revisions
from .checksums import SCHEMA_LOCK
from .failures import Failure
from .ownership import Ownership
from .prerequisites import CREATE_SCHEMA, DROP_EMPTY_SCHEMA, missing_schemas, prepare
from .protocol import Request

NO_MODELS = "env.py has no target_metadata"
_RELATIVE = re.compile(r"^([+-][0-9]+|(head|heads|base|\w+)[+-][0-9]+)\Z")


class Operation:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.op = request["op"]
        self.args: dict[str, Any] = request.get("args") or {}
        self.schema = request["schema"]
        self.service = request["service"]
        self.branch: str | None = request.get("branch")  # one branch (branch_labels) of a shared environment
        for folder in reversed(request.get("pythonpath") or []):
            sys.path.insert(0, folder)
        self.sql_buffer = io.StringIO()
        self.config = self.new_config(self.sql_buffer if self.op == "sql" else sys.stdout)
        # ConfigParser interpolates %, and a percent-encoded password contains it.
        self.config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        self.applied: list[dict[str, Any]] = []  # steps recorded by configure.recorder
        self.on_step: Any = None  # verify's look at each step, inside its transaction (configure.recorder calls it)
        self.phase = self.op  # what env.py runs for now: verify goes through upgrade, downgrade and check
        self.version_table: dict[str, Any] = {}  # where env.py keeps alembic_version, as configured
        self.bookkeeping: str | None = None  # why no checksum was recorded (applied.ready), when none could be
        self.configured: dict[str, Any] = {}  # what env.py passed to context.configure
        self.heads_by_database: dict[str, list[str]] = {}  # multidb: what database_heads read in each database
        self.handed: list[str] = []  # configure's version table keys env.py left out, set from migrations.yaml
        self.ownership = Ownership(dict(request))  # what check, generate and verify may look at

    def new_config(self, output: Any) -> Any:
        """Alembic's Config as plain `alembic [-n SECTION]` in the service folder makes it: the ini's section, then
        pyproject.toml's [tool.alembic] (Alembic >= 1.16)."""
        import inspect

        from alembic.config import Config

        request = self.request
        options: dict[str, Any] = {"ini_section": request.get("ini_section") or "alembic", "cmd_opts": self.cmd_opts()}
        toml = request.get("toml")
        if toml and "toml_file" in inspect.signature(Config.__init__).parameters:
            options["toml_file"] = toml
        elif toml and not (revisions.alembic_options(request["ini"], options["ini_section"]) or {}).get("script_location"):
            import alembic

            raise Failure(
                "alembic_too_old",
                f"{os.path.basename(toml)} [tool.alembic] needs Alembic 1.16 or later",
                file=toml,
                version=getattr(alembic, "__version__", "?"),
            )
        config = Config(request["ini"], output_buffer=output, **options)
        for engine, url in (request.get("engines") or {}).items():  # multidb: [engine] sqlalchemy.url, as the template reads it
            config.set_section_option(engine, "sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolates %
        return config

    def cmd_opts(self) -> Any:
        """Alembic's command-line options as env.py sees them: only -x (a fleet's tenant), None without it."""
        x = list(self.request.get("x") or [])
        return argparse.Namespace(x=x) if x else None

    @property
    def url(self) -> str:
        """The URL the parent handed to env.py (in the variable env.py reads)."""
        return os.environ.get(self.request["url_env"], "")

    # -- the script directory, checked before env.py runs ---------------------------------------

    def script(self) -> Any:
        """The ScriptDirectory with its revision map built; a broken chain is named by file."""
        from alembic.script import ScriptDirectory

        script = None
        try:
            script = ScriptDirectory.from_config(self.config)
            script.revision_map.heads  # noqa: B018 - builds the map, raising on a broken chain
        except Exception as error:
            # Alembic answers a missing down_revision with a bare KeyError: read the files to name it.
            broken = revisions.find_broken_chain(revisions.script_files(script)) if script is not None else None
            if broken:
                raise Failure("broken_chain", "down_revision defined by no file", **broken) from None
            if isinstance(error, (ImportError, SyntaxError)):
                raise
            raise Failure("history", f"{type(error).__name__}: {error}".splitlines()[0]) from None
        for folder in getattr(script, "_version_locations", None) or [script.versions]:
            unreadable = revisions.broken_folder(str(folder))
            if unreadable:  # else the service reads as having no migrations, and every check passes
                raise Failure("history", unreadable)
        return script

    def single_head(self, script: Any) -> str | None:
        heads = branches.heads(script, self.branch)
        if len(heads) > 1:
            raise Failure("multiple_heads", "multiple heads", heads=sorted(heads))
        return heads[0] if heads else None

    def resolve(self, script: Any, revision: str | None, *, relative_ok: bool = True) -> None:
        """Raise a clear Failure for a revision argument no file defines (relative forms go to Alembic)."""
        if revision is None or revision in ("head", "heads", "base"):
            return
        if relative_ok and _RELATIVE.match(revision):
            # 'nope-1' is relative to 'nope', which must exist (Alembic would blame the database for it).
            revision = re.split(r"[+-]", revision, maxsplit=1)[0]
            if revision in ("", "head", "heads", "base"):
                return
        try:
            found = script.get_revisions(revision)
        except Exception as error:
            raise Failure("unknown_revision", str(error).splitlines()[0], revision=revision) from None
        if not found:
            raise Failure("unknown_revision", f"no revision {revision!r}", revision=revision)

    # -- env.py ---------------------------------------------------------------------------------------

    def run_env_py(self, script: Any, fn: Any, **kw: Any) -> None:
        """Run the service's env.py once, with `fn` as the migration function."""
        from alembic.runtime.environment import EnvironmentContext

        with EnvironmentContext(self.config, script, fn=fn, **kw):
            script.run_env()

    def database_heads(self, script: Any, everything: bool = False) -> list[str]:
        """The revisions alembic_version records (env.py runs without creating anything): the branch's rows, or
        `everything` the table holds."""
        found: list[str] = []
        self.heads_by_database = {}

        def fn(rev: Any, context: Any) -> list[Any]:
            heads = context.get_current_heads()
            found.extend(heads)
            self.heads_by_database.setdefault(_database_of(context), []).extend(heads)
            return []

        self.run_env_py(script, fn, dont_mutate=True)
        found = list(dict.fromkeys(found))  # multidb: each engine's database records the same revisions
        return found if everything else branches.mine(script, self.branch, found)

    def run_command(self, command: Any, *args: Any, **kw: Any) -> None:
        """An alembic.command function, with its CommandErrors classified."""
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

    def where_it_stays(self, kind: str) -> list[str] | None:
        """The revision a failed run left the service at: the last migration completed, else read back."""
        if self.applied:
            return list(self.applied[-1]["to"])
        if kind not in ("migration", "interrupted", "checksum_table"):
            return None
        try:
            self.phase = "current"
            return self.database_heads(self.script())
        except Exception:
            return None

    # -- schemas ----------------------------------------------------------------------------------

    def create_schemas(self, db: Any = None) -> list[str]:
        """Create the service's missing schemas (migrations.yaml's create_schema, on by default); return them."""
        if not self.request.get("create_schemas", True) or self.args.get("schemas_exist"):
            return []  # not wanted, or the parent saw a revision recorded in the service's one schema
        from .catalog import Connection

        connection = db or Connection(self.url)
        try:
            missing = missing_schemas(connection.rows, self.ownership.schemas)
            for name in missing:
                connection.rows(CREATE_SCHEMA.format(lock=SCHEMA_LOCK, name=name))
            return missing
        finally:
            if db is None:
                connection.close()

    def prepare(self, db: Any = None) -> list[str]:
        """migrations.yaml's extensions and prepare files, before the first revision (prerequisites.py)."""
        return prepare(self, db)

    def version_schema_exists(self) -> bool:
        """Whether the schema of the version table migrations.yaml names exists (a service never migrated has none)."""
        from .catalog import Connection

        schema = (self.request.get("version_table") or [self.schema])[0]
        literal = str(schema).replace("'", "''")
        connection = Connection(self.url)
        try:
            return bool(connection.rows(f"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '{literal}')")[0][0])
        finally:
            connection.close()

    def untracked_tables(self) -> list[str]:
        """The service's own tables in a database whose version table records no revision (schema.table)."""
        from .catalog import Connection

        connection = Connection(self.url)
        try:
            listed = ", ".join(f"'{name}'" for name in self.ownership.schemas)
            self.ownership.learn_migrations(connection.rows("SELECT current_schema()")[0][0])
            rows = connection.rows(f"SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ({listed})")
        finally:
            connection.close()
        mine = [(schema, table) for schema, table in rows if self.ownership.owns(schema, table)]
        return sorted(f"{schema}.{table}" for schema, table in mine if not self.ownership.bookkeeping(schema, table))

    def drop_schemas(self, names: list[str]) -> None:
        """Drop schemas create_schemas made for a run that applied nothing, if they are still empty."""
        if not names or self.applied:
            return
        from .catalog import Connection

        connection = Connection(self.url)
        try:
            for name in names:
                with contextlib.suppress(Exception):  # something is in it now: leave it
                    connection.rows(DROP_EMPTY_SCHEMA.format(name=name))
        finally:
            connection.close()

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
                head=branches.spelled(self.branch, "head"),
                splice=False,
                branch_label=None,
                version_path=None,
                rev_id=None,
                depends_on=None,
            ),
        )

    def autogenerate(self, script: Any, head: str | None, context: Any = None, during: Any = None) -> list[Any]:
        """Run env.py with autogenerate, after checking the database is at `head`; return the diffs. `during`, when
        given, is called with env.py's connection once the head is checked (a read there needs no connection of ours)."""
        context = context or self.autogenerate_context(script)

        def fn(rev: Any, migration_context: Any) -> list[Any]:
            current = branches.mine(script, self.branch, migration_context.get_current_heads())
            if current != ([head] if head else []):
                unknown = [r for r in current if not defines(script, r)]
                if unknown:
                    raise Failure("unknown_database_revision", "unknown revision", revision=unknown[0])
                raise Failure("not_at_head", "database is not at head", current=current, head=head)
            if during is not None:
                during(migration_context.connection)
            if migration_context.opts.get("target_metadata") is None:
                raise Failure("no_models", NO_MODELS)
            context.run_autogenerate(rev, migration_context)
            return []

        self.run_env_py(script, fn, as_sql=False, template_args=context.template_args, revision_context=context)
        diffs: list[Any] = []
        for ops in context.generated_revisions[-1].upgrade_ops_list:
            diffs.extend(ops.as_diffs())
        return diffs

    def write(self, script: Any, create: Any) -> Any:
        """Run `create`; if it fails after writing the file (a post-write hook), name the file left behind."""
        before = revisions.script_files(script)
        try:
            return create()
        except Exception as error:
            written = sorted(revisions.script_files(script) - before)
            if not written:
                raise
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            raise Failure("post_write", reason, path=written[-1]) from None


def defines(script: Any, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False


def _database_of(context: Any) -> str:
    """The name of the database a migration context's connection reached ("" when it cannot tell)."""
    try:
        return str(context.connection.engine.url.database or "")
    except AttributeError:
        return ""


def pending_count(script: Any, head: str | None, current: list[str]) -> int:
    """How many revisions lie between `current` and `head` (iterate_revisions excludes its lower end)."""
    return sum(1 for _ in script.iterate_revisions(head, current[0] if current else "base"))


def describe(diff: Any) -> str:
    """One readable line for an autogenerate diff tuple (or list of modify tuples)."""
    if isinstance(diff, list):
        return "; ".join(describe(item) for item in diff)
    kind = diff[0]
    words = kind.replace("_", " ")
    if kind in ("add_table", "remove_table", "add_table_comment", "remove_table_comment"):
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
    return " ".join(str(part) for part in diff)


def _qualified(table: Any) -> str:
    return _name(getattr(table, "schema", None), getattr(table, "name", str(table)))


def _name(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name
