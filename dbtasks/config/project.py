"""The parsed migrations.yaml: a Project of Services (and Environments), plain frozen values."""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UsageError
from ..lint.rules import LintRules


def merged_x(*layers: Sequence[str]) -> tuple[str, ...]:
    """Alembic -x arguments (name=value) of several layers, a later layer's value winning for the same name."""
    found = dict(item.split("=", 1) for layer in layers for item in layer)
    return tuple(f"{name}={value}" for name, value in found.items())


def closest(name: str, known: Sequence[str]) -> list[str]:
    """The known name closest to a mistyped `name`, if one is close (difflib is imported only on that path)."""
    import difflib

    return difflib.get_close_matches(name, known, n=1)


# migrations.yaml's bookkeeping_schema when it names none (the worker's own copy: worker/checksums.DEFAULT_SCHEMA)
BOOKKEEPING_SCHEMA = "dbtasks_state"


@dataclass(frozen=True)
class Service:
    """One service: its folder, where it lives (database, schemas, version table) and how to run its Alembic environment."""

    name: str
    path: Path
    schema: str  # its first schema: where its version table is unless version_table says otherwise
    driver: str
    alembic_ini: Path
    url_env: str  # the variable env.py reads its URL from (dbtasks sets it for the worker)
    pythonpath: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    python: str | None = None
    depends_on: tuple[str, ...] = ()
    expect_tables: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()  # every schema it owns, `schema` first (empty: just `schema`)
    database: str | None = None  # a database of its own on the default server
    database_url_env: str | None = None  # or a URL of its own, from this variable
    version_table: tuple[str, str] | None = None  # (schema, table) as migrations.yaml or env.py says; None: read by the worker
    version_table_declared: bool = False  # migrations.yaml says version_table: handed to env.py when it passes none
    create_schema: bool = True  # create its schemas before its first upgrade when they are missing
    x: tuple[str, ...] = ()  # Alembic -x arguments (name=value) for env.py: migrations.yaml's x:, a fleet's tenant
    ini_section: str = "alembic"  # the section of alembic.ini Alembic reads (alembic -n NAME)
    pyproject: Path | None = None  # pyproject.toml whose [tool.alembic] Alembic reads after the ini (Alembic >= 1.16)
    extensions: tuple[str, ...] = ()  # created when missing, before its first revision (CREATE EXTENSION IF NOT EXISTS)
    prepare: tuple[Path, ...] = ()  # .sql files run before its first revision, when it has none applied
    engines: tuple[tuple[str, str | None, str | None], ...] = ()  # multidb: (engine, database name, or URL variable)
    branch: str | None = None  # one branch (branch_labels) of an Alembic environment other services share
    bootstrap: str | None = None  # module:Base.metadata: an empty database is built by create_all, then stamped head
    lint: LintRules = field(default_factory=LintRules)  # the squawk rules `inv db.lint` runs with (migrations.yaml's lint:)

    @property
    def alembic_source(self) -> dict[str, Any]:
        """Where Alembic reads this service's configuration, as worker/revisions' readers take it."""
        return {
            "ini": str(self.alembic_ini),
            "cwd": str(self.path),
            "section": self.ini_section,
            "toml": str(self.pyproject) if self.pyproject else None,
        }

    def other_branch(self, other: Service) -> bool:
        """Whether the two are branches (branch:) of one Alembic environment: they keep their heads in its one
        version table, a row each, and may share it."""
        return bool(self.branch and other.branch and self.branch != other.branch and self.alembic_source == other.alembic_source)

    @property
    def owned_schemas(self) -> tuple[str, ...]:
        return self.schemas or (self.schema,)

    @property
    def expected_version_table(self) -> tuple[str, str]:
        """Where its alembic_version is expected: declared, read from env.py, else `schema`.alembic_version."""
        return self.version_table or (self.schema, "alembic_version")

    def engine_services(self) -> dict[str, Service]:
        """multidb: each engine as a service of its own database (named service.engine), to resolve its target."""
        return {
            engine: replace(self, name=f"{self.name}.{engine}", database=name, database_url_env=variable, engines=())
            for engine, name, variable in self.engines
        }

    @property
    def database_key(self) -> tuple[str, str]:
        """Which database it uses, as migrations.yaml says it: services with equal keys share one."""
        if self.database_url_env:
            return ("url_env", self.database_url_env)
        if self.database:
            return ("name", self.database)
        return ("default", "")


@dataclass(frozen=True)
class Environment:
    """A named target (production, staging, ...): its URL variable, whether it is protected, its timeouts."""

    name: str
    url_env: str
    protected: bool = False
    statement_timeout: str | None = None  # a PostgreSQL duration, set for every migration transaction
    lock_timeout: str | None = None
    url_envs: Mapping[str, str] = field(default_factory=dict, hash=False)  # service -> its own URL variable here
    x: Mapping[str, str] = field(default_factory=dict, hash=False)  # Alembic -x for every service here, over its own

    def with_x(self, service: Service) -> Service:
        """`service` with this environment's -x arguments over its own (the same name: the environment's value)."""
        if not self.x:
            return service
        return replace(service, x=merged_x(service.x, [f"{name}={value}" for name, value in self.x.items()]))

    def settings(self) -> dict[str, str]:
        """The session settings each migration transaction gets (SET LOCAL)."""
        found = {"statement_timeout": self.statement_timeout, "lock_timeout": self.lock_timeout}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class Fleet:
    """A named set of databases (migrations.yaml's targets:) that the same services run on; evaluated at run time."""

    name: str
    services: tuple[str, ...]  # in declaration order
    kind: str  # query, databases, url_envs or file: where the members' names come from
    source: str | tuple[str, ...]  # the query, the names, the variables, or the file (relative to migrations.yaml)
    x: Mapping[str, str] = field(default_factory=dict, hash=False)  # Alembic -x arguments; ${target} is the member


@dataclass(frozen=True)
class Project:
    """The parsed migrations.yaml: where it lives, where the URL comes from, and the services."""

    file: Path
    url_env: str
    services: Mapping[str, Service] = field(hash=False)
    local: bool = True  # may the embedded database stand in when no URL is configured?
    environments: Mapping[str, Environment] = field(default_factory=dict, hash=False)
    fleets: Mapping[str, Fleet] = field(default_factory=dict, hash=False)  # migrations.yaml's targets:
    bookkeeping_schema: str = BOOKKEEPING_SCHEMA  # dbtasks' own schema in every database (its checksums)

    @property
    def root(self) -> Path:
        return self.file.parent

    @property
    def drivers(self) -> tuple[str, ...]:
        """The drivers its services use, for the fork server to import once."""
        return tuple(sorted({service.driver for service in self.services.values()}))

    def neighbours(self, service: Service) -> list[Service]:
        """The other services in the same database as `service` (as migrations.yaml places them)."""
        return [
            other for other in self.services.values() if other.name != service.name and other.database_key == service.database_key
        ]

    def foreign_version_tables(self, service: Service) -> tuple[tuple[str, str], ...]:
        """The version tables of the other services in its database; not its own, which the other branches of its
        Alembic environment share with it."""
        own = service.expected_version_table
        return tuple(dict.fromkeys(t for other in self.neighbours(service) if (t := other.expected_version_table) != own))

    def shared_schemas(self, service: Service) -> list[str]:
        """Those of the service's schemas that another service in its database also owns."""
        others = {schema for other in self.neighbours(service) for schema in other.owned_schemas}
        return [schema for schema in service.owned_schemas if schema in others]

    def service(self, name: str) -> Service:
        """The service called `name`, or a UsageError that suggests the closest name."""
        if name in self.services:
            return self.services[name]
        known = ", ".join(self.services)
        if not name:
            raise UsageError(f"missing SERVICE: name one of {known}")
        close = closest(name, list(self.services))
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise UsageError(f"unknown service {name!r}{hint} known: {known}")

    def environment(self, name: str, source: str = "--env") -> Environment:
        """The environment called `name` (given by `source`), or a UsageError naming the known ones."""
        if name in self.environments:
            return self.environments[name]
        raise unknown_name(
            f"{source}: unknown environment", name, list(self.environments), "environments (see docs/configuration.md)"
        )


def unknown_name(subject: str, name: str, known: list[str], none: str) -> UsageError:
    """'<subject> <name>' with the closest known name and every known one, or that migrations.yaml defines `none`."""
    if not known:
        return UsageError(f"{subject} {name!r}; migrations.yaml defines no {none}")
    close = closest(name, known)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return UsageError(f"{subject} {name!r}{hint} migrations.yaml defines: {', '.join(known)}")


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it, for messages."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_dotenv(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of a .env file (comments, `export` and quotes allowed; no interpolation)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in read_utf8(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        quote = value[:1]
        if quote in ("'", '"') and value.find(quote, 1) > 0:
            value = value[1 : value.find(quote, 1)]  # what follows the closing quote is a comment
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]  # an unquoted value ends at an inline comment
        values[key.strip()] = value
    return values


# A migrations.yaml, a .env or a fleet's file of names: a real one is a few kilobytes; anything this large is refused
# before it is read (a 50 MB file took minutes and gigabytes to refuse).
MAX_FILE_BYTES = 2 * 1024 * 1024


def resolved(path: Path) -> Path:
    """`path` made absolute with its links followed; a ConfigError for a link that loops."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError: Python < 3.13's word for a symbolic link loop
        where = display_path(path)
        raise ConfigError([f"{where}: its symbolic links loop (or cannot be followed); point it at a real file"]) from None


def read_utf8(path: Path) -> str:
    """The text of a UTF-8 file; a ConfigError naming the file and what is wrong: not a regular file (a FIFO, a
    device: reading could hang), too large, or the first byte that is not UTF-8."""
    try:
        info = path.stat()
    except OSError as error:
        raise ConfigError([f"{display_path(path)}: cannot read it ({error.strerror or error}); fix the path"]) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([f"{display_path(path)}: not a regular file (a pipe, device or folder); point it at a file"])
    if info.st_size > MAX_FILE_BYTES:
        raise ConfigError(
            [
                f"{display_path(path)}: {info.st_size} bytes, more than the {MAX_FILE_BYTES // (1024 * 1024)} MiB a file of dbtasks may hold; is it the right file?"
            ]
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            [f"{display_path(path)}:{line}: not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"]
        ) from None
