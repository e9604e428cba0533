"""Database URLs: validate them, normalize them to a service's driver, and mask passwords before anything is shown."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .errors import ConfigError

DRIVERS = ("asyncpg", "psycopg2", "psycopg")  # psycopg: psycopg 3
_SCHEMES = ("postgres", "postgresql")
# Offline SQL rendering never connects, but env.py files still want a URL to read.
OFFLINE_URL = "postgresql://offline@localhost/offline"
# user:password@ up to the LAST @ before the host, as URL parsers read it (a password may hold a raw @).
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^/\s]*)(?P<tail>@)", re.I)


def mask(text: str) -> str:
    """Replace the password of every URL in `text` with ***."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}" if m["password"] else m[0], text)


def password_of(url: str) -> str | None:
    """The password in `url`, if any (as written and as decoded are both secrets)."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def secrets_of(url: str) -> list[str]:
    """Every spelling of the URL's password that could show up in output."""
    raw = password_of(url)
    if not raw:
        return []
    return sorted({raw, unquote(raw)}, key=len, reverse=True)


def validate(url: str, source: str) -> None:
    """Raise ConfigError unless `url` is a PostgreSQL URL; `source` names where it came from."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise ConfigError([f"{source}: malformed URL {mask(url)!r} ({error}); fix the variable"]) from None
    if parts.netloc.count("@") > 1:
        raise ConfigError([f"{source}: the password in {mask(url)!r} contains a raw '@'; percent-encode it as %40"])
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            [f"{source}: expected a postgresql:// URL, got {mask(url)!r}; set it to postgresql://user:password@host:5432/dbname"]
        )
    if not parts.path.strip("/") and "dbname" not in dict(parse_qsl(parts.query)):
        raise ConfigError([f"{source}: URL {mask(url)!r} names no database; add /dbname to it"])


def normalize(url: str, driver: str) -> str:
    """Rewrite `url` for `driver`: scheme postgresql+<driver>, and sslmode/ssl in the form the driver reads."""
    parts = urlsplit(url)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if driver == "asyncpg" and key == "sslmode":
            key = "ssl"
        elif driver in ("psycopg2", "psycopg") and key == "ssl":
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        query.append((key, value))
    return urlunsplit((f"postgresql+{driver}", parts.netloc, parts.path, urlencode(query), parts.fragment))


# ${db.host} and friends in a service's `env:` values: the parts of the URL the service is handed, for
# env.py files that assemble their URL from POSTGRES_HOST, POSTGRES_PASSWORD, ... instead of reading one.
PLACEHOLDER = re.compile(r"\$\{db\.([A-Za-z_]+)\}")
PLACEHOLDER_FIELDS = ("host", "port", "user", "password", "name", "url")


def expand(value: str, url: str, driver: str) -> str:
    """`value` with each ${db.FIELD} replaced by that part of `url` (the password decoded, the URL normalized)."""
    if "${db." not in value:
        return value
    parts = urlsplit(url)
    fields = {
        "host": parts.hostname or "localhost",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "name": parts.path.lstrip("/") or dict(parse_qsl(parts.query)).get("dbname", ""),
        "url": normalize(url, driver),
    }
    return PLACEHOLDER.sub(lambda match: fields[match[1]], value)
