"""Where a run goes: the database URL, where it came from, and the strings to hide from output.

The one place URL precedence is decided (resolve_url) and the one place the embedded local database
stands in for a missing URL (resolve_target); Session and doctor both use them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..config.project import Environment, Project, Service, read_dotenv
from ..errors import ConfigError
from ..worker.libpq import database_name, with_database
from .masking import mask
from .urls import canonical, hide, secrets_of, validate

if TYPE_CHECKING:  # imported when the local database stands in for a missing URL
    from .localdb import LocalDatabase

LOCAL_SOURCE = "the local database (.dbtasks/)"


@dataclass(frozen=True)
class Target:
    """A database URL (None for offline work), the strings to hide from output, and where the URL came from."""

    url: str | None
    secrets: tuple[str, ...] = ()
    source: str = "DATABASE_URL"  # for messages: the variable (or file) to fix

    @classmethod
    def of(cls, url: str, source: str) -> Target:
        """A validated URL in its canonical form (urls.canonical: what libpq reads in its query moved where every
        driver reads it), hiding the password in every spelling it had."""
        found = canonical(url, source)
        return cls(found, tuple(sorted({*secrets_of(url), *secrets_of(found)}, key=len, reverse=True)), source)

    def redact(self, text: str) -> str:
        return mask(hide(text, self.secrets))

    def redact_values(self, value: Any) -> Any:
        """Mask every string inside a decoded JSON value (keys and structure stay intact)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_values(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_values(item) for key, item in value.items()}
        return value


def resolve_url(project: Project, environment: Environment | None = None, variable: str | None = None) -> tuple[str | None, str]:
    """The configured URL and where it came from.

    1. the environment variable named by the selected environment's `url_env`, else by
       `database.url_env` (default DATABASE_URL), unless `variable` names another one;
    2. the same variable in the .env file beside migrations.yaml;
    3. none: the caller falls back to the embedded local database (never for a named environment).
    """
    name = variable or (environment.url_env if environment is not None else project.url_env)
    if os.environ.get(name):
        return os.environ[name], name
    dotenv = project.root / ".env"
    value = read_dotenv(dotenv).get(name)
    if value:
        return value, f"{name} (in {dotenv.name})"
    return None, "local"


def configured_target(project: Project, environment: Environment | None = None) -> Target:
    """The configured URL, validated; Target(None) when none is configured (this never starts anything)."""
    url, source = resolve_url(project, environment)
    if url is None:
        return Target(None, (), source)
    validate(url, source)
    return Target.of(url, source)


def own_url_env(service: Service, environment: Environment | None) -> str | None:
    """The variable holding the URL of a service with a URL of its own, in the selected environment."""
    if service.database_url_env is None:
        return None
    return environment.url_envs[service.name] if environment is not None else service.database_url_env


def configured_service_target(project: Project, environment: Environment | None, service: Service) -> Target:
    """The service's configured database, validated; Target(None) when none is configured (never starts anything)."""
    variable = own_url_env(service, environment)
    if variable is not None:
        url, source = resolve_url(project, environment, variable)
        if url is None:
            return Target(None, (), variable)
        validate(url, source)
        return Target.of(url, source)
    base = configured_target(project, environment)
    if service.database and base.url is not None:
        return Target(with_database(base.url, service.database), base.secrets, f"{base.source} (database {service.database})")
    return base


def resolve_service_target(
    project: Project, environment: Environment | None, service: Service, base: Callable[[], Target]
) -> Target:
    """The service's database: its own URL, its own database on the default server (`base`), or `base` itself.

    On the embedded local database, a service's database of its own is created on first use (one named after the
    service when it has a URL variable of its own that is not set).
    """
    variable = own_url_env(service, environment)
    if variable is None and not service.database:
        return base()
    configured = configured_service_target(project, environment, service)
    if configured.url is not None:
        return configured
    if variable is not None and (environment is not None or configured_target(project).url is not None):
        where = f" in environment {environment.name!r}" if environment is not None else ""
        raise ConfigError([f"{variable} is not set{where}; set it (or put it in .env) to the URL of {service.name!r}'s database"])
    default = base()
    name = service.database or service.name
    if default.source != LOCAL_SOURCE:
        return Target(with_database(default.url or "", name), default.secrets, f"{default.source} (database {name})")
    url = local_database(project).ensure_database(name)
    return Target.of(url, LOCAL_SOURCE)


def where(url: str | None) -> tuple[str, int, str]:
    """(host, port, database) of a URL as written (libpq's defaults for what it leaves out)."""
    parts = urlsplit(url or "")
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    return parts.hostname or "localhost", port, database_name(url)


def shown(url: str | None) -> str:
    """'host:port/database' of a URL, for messages."""
    return "{}:{}/{}".format(*where(url))


def address(url: str | None) -> tuple[str, int, str]:
    """(host, port, database) of a URL, loopback spellings made equal: two URLs with one address are one database."""
    host, port, database = where(url)
    return ("localhost" if host in ("127.0.0.1", "::1") else host, port, database)


def local_database(project: Project) -> LocalDatabase:
    from .localdb import LocalDatabase

    return LocalDatabase(project.root / ".dbtasks")


def resolve_target(
    project: Project, environment: Environment | None = None, *, announce: Callable[[str], None] = lambda line: None
) -> Target:
    """The database to use: the configured one, else the embedded local database, started (and created) if need be."""
    configured = configured_target(project, environment)
    if configured.url is not None:
        return configured
    if environment is not None:
        raise ConfigError(
            [
                f"{environment.url_env} is not set for environment {environment.name!r}; set it (or put it in .env) to "
                f"that database's URL (a named environment never falls back to the local database)"
            ]
        )
    if not project.local:
        raise ConfigError(
            [
                f"{project.url_env} is not set and migrations.yaml turns the local database off "
                f"(database.local: false); set {project.url_env} to the database to migrate"
            ]
        )
    url, did = local_database(project).start_telling()
    if did:
        announce(f"{did} the local PostgreSQL under .dbtasks/ (it keeps running; 'inv db.local-stop' stops it)")
    target = Target.of(url, LOCAL_SOURCE)
    announce(target_line(target, None, hint=f"set {project.url_env} to use another"))
    return target


def target_line(target: Target, environment: Environment | None, *, service: str = "", hint: str = "") -> str:
    """'target: app@db.internal:5432/app (from PROD_DATABASE_URL, environment production)': never a password."""
    reached = f"{unquote(urlsplit(target.url or '').username or '')}@{shown(target.url)}"
    origin = "the local database under .dbtasks/" if target.source == LOCAL_SOURCE else f"from {target.source}"
    details = [origin] + ([f"environment {environment.name}"] if environment is not None else []) + ([hint] if hint else [])
    return f"target{f' of {service}' if service else ''}: {reached} ({', '.join(details)})"
