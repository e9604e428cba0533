"""The name of a service's own database as its repository already says it, before init invents one: the URL in its
alembic.ini (when it is not the template's placeholder), its folder's `.env`, or the environment a compose file gives
the container built from its folder (DATABASE_URL, POSTGRES_DB and the like). Read as text and YAML, never run."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

_NAME_KEYS = ("POSTGRES_DB", "POSTGRES_DATABASE", "PGDATABASE", "DB_NAME", "DATABASE_NAME")
_URL_KEYS = ("DATABASE_URL", "SQLALCHEMY_DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "POSTGRES_URL", "DB_URL")
_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_PLACEHOLDERS = {"", "dbname", "db_name", "database", "postgres"}


def named(folder: Path, root: Path, ini_url: str) -> tuple[str, str] | None:
    """(the database's name, where it was read) for the service in `folder`, or None."""
    name = _from_url(ini_url)
    if name:
        return name, f"{_shown(folder / 'alembic.ini', root)}'s sqlalchemy.url"
    dotenv = folder / ".env"
    name = _from_environment(_dotenv(dotenv))
    if name:
        return name, _shown(dotenv, root)
    for compose in (root / file for file in _COMPOSE_FILES):
        for service, environment in _compose_services(compose, folder):
            name = _from_environment(environment)
            if name:
                return name, f"{_shown(compose, root)} (service {service})"
    return None


def _from_url(url: str) -> str | None:
    if "%(" in url or "${" in url or "{" in url:
        return None
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres") or not parts.hostname:
        return None
    name = parts.path.lstrip("/").split("?")[0]
    return name if name.lower() not in _PLACEHOLDERS and name.replace("_", "").replace("-", "").isalnum() else None


def _from_environment(environment: dict[str, str]) -> str | None:
    for key in _URL_KEYS:
        name = _from_url(environment.get(key, ""))
        if name:
            return name
    for key in _NAME_KEYS:
        value = environment.get(key, "").strip()
        if value and "$" not in value and value.lower() not in _PLACEHOLDERS:
            return value
    return None


def _dotenv(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return {}
    found = {}
    for line in text.splitlines():
        key, separator, value = line.removeprefix("export ").partition("=")
        if separator and key.strip().isidentifier():
            found[key.strip()] = value.strip().strip("'\"")
    return found


def _compose_services(compose: Path, folder: Path) -> list[tuple[str, dict[str, str]]]:
    """(compose service, its environment) for each service whose image is built from `folder`."""
    try:
        document: Any = yaml.safe_load(compose.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    services = document.get("services") if isinstance(document, dict) else None
    found = []
    for name, spec in (services or {}).items() if isinstance(services, dict) else []:
        build = spec.get("build") if isinstance(spec, dict) else None
        context = build.get("context") if isinstance(build, dict) else build
        if not isinstance(context, str) or (compose.parent / context).resolve() != folder.resolve():
            continue
        environment = spec.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(str(item).partition("=")[::2] for item in environment)
        if isinstance(environment, dict):
            found.append((str(name), {str(key): str(value) for key, value in environment.items() if value is not None}))
    return found


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
