"""The parsed migrations.yaml: a Project of Services (and Environments), plain frozen values."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError


@dataclass(frozen=True)
class Service:
    """One service: its folder, the schema it owns and how to run its Alembic environment."""

    name: str
    path: Path
    schema: str
    driver: str
    alembic_ini: Path
    url_env: str
    pythonpath: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    python: str | None = None
    depends_on: tuple[str, ...] = ()
    expect_tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    """A named target (production, staging, ...): its URL variable, whether it is protected, its timeouts."""

    name: str
    url_env: str
    protected: bool = False
    statement_timeout: str | None = None  # a PostgreSQL duration, set for every migration transaction
    lock_timeout: str | None = None

    def settings(self) -> dict[str, str]:
        """The session settings each migration transaction gets (SET LOCAL)."""
        found = {"statement_timeout": self.statement_timeout, "lock_timeout": self.lock_timeout}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class Project:
    """The parsed migrations.yaml: where it lives, where the URL comes from, and the services."""

    file: Path
    url_env: str
    services: Mapping[str, Service] = field(hash=False)
    local: bool = True  # may the embedded database stand in when no URL is configured?
    environments: Mapping[str, Environment] = field(default_factory=dict, hash=False)

    @property
    def root(self) -> Path:
        return self.file.parent

    def service(self, name: str) -> Service:
        """The service called `name`, or a UsageError that suggests the closest name."""
        if name in self.services:
            return self.services[name]
        known = ", ".join(self.services)
        close = difflib.get_close_matches(name, list(self.services), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise UsageError(f"unknown service {name!r}{hint} known: {known}")

    def environment(self, name: str, source: str = "--env") -> Environment:
        """The environment called `name` (given by `source`), or a UsageError naming the known ones."""
        if name in self.environments:
            return self.environments[name]
        if not self.environments:
            raise UsageError(f"{source}: unknown environment {name!r}; migrations.yaml defines no environments (see README)")
        close = difflib.get_close_matches(name, list(self.environments), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise UsageError(f"{source}: unknown environment {name!r}{hint} migrations.yaml defines: {', '.join(self.environments)}")


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
    for line in path.read_text(encoding="utf-8").splitlines():
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
