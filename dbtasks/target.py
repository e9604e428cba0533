"""Where a run goes: the database URL, where it came from, and the strings to hide from output.

The one place URL precedence is decided (resolve_url) and the one place the embedded local database
stands in for a missing URL (resolve_target); Session and doctor both use them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .localdb import LocalDatabase
from .project import Environment, Project, read_dotenv
from .urls import mask, secrets_of, validate

LOCAL_SOURCE = "the local database (.dbtasks/)"


@dataclass(frozen=True)
class Target:
    """A database URL (None for offline work), the strings to hide from output, and where the URL came from."""

    url: str | None
    secrets: tuple[str, ...] = ()
    source: str = "DATABASE_URL"  # for messages: the variable (or file) to fix

    @classmethod
    def of(cls, url: str, source: str) -> Target:
        return cls(url, tuple(secrets_of(url)), source)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return mask(text)

    def redact_values(self, value: Any) -> Any:
        """Mask every string inside a decoded JSON value (keys and structure stay intact)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_values(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_values(item) for key, item in value.items()}
        return value


def resolve_url(project: Project, environment: Environment | None = None) -> tuple[str | None, str]:
    """The configured URL and where it came from.

    1. the environment variable named by the selected environment's `url_env`, else by
       `database.url_env` (default DATABASE_URL);
    2. the same variable in the .env file beside migrations.yaml;
    3. none: the caller falls back to the embedded local database (never for a named environment).
    """
    name = environment.url_env if environment is not None else project.url_env
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


def local_database(project: Project) -> LocalDatabase:
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
    url = local_database(project).start()
    announce(f"using the local database {mask(url)} (set {project.url_env} to use another)")
    return Target.of(url, LOCAL_SOURCE)
