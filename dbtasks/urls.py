"""Database URLs: normalize to a service's driver and mask passwords before anything is shown."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .errors import ConfigError

DRIVERS = ("asyncpg", "psycopg2")
_SCHEMES = ("postgres", "postgresql")
# Offline SQL rendering never connects, but env.py files still want a URL to read.
OFFLINE_URL = "postgresql://offline@localhost/offline"
# What libpq accepts in a URL's query; anything else (pgbouncer=true, asyncpg options) makes it refuse the URL.
_LIBPQ_KEYWORDS = (
    "host hostaddr port dbname user password passfile channel_binding connect_timeout client_encoding options "
    "application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count "
    "tcp_user_timeout replication gssencmode sslmode sslnegotiation sslcompression sslcert sslkey sslpassword "
    "sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version "
    "krbsrvname gsslib gssdelegation service target_session_attrs load_balance_hosts"
)
_LIBPQ_KEYS = frozenset(_LIBPQ_KEYWORDS.split())
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
        elif driver == "psycopg2" and key == "ssl":
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        query.append((key, value))
    return urlunsplit((f"postgresql+{driver}", parts.netloc, parts.path, urlencode(query), parts.fragment))


def libpq(url: str) -> str:
    """A URL psycopg2 (libpq) accepts: no +driver, sslmode rather than ssl, only the query keys libpq knows."""
    parts = urlsplit(url)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "ssl":
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        if key in _LIBPQ_KEYS:
            query.append((key, value))
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), parts.fragment))


def database_name(url: str | None) -> str:
    """The database a URL names (its path, or a dbname= query)."""
    parts = urlsplit(url or "")
    return parts.path.lstrip("/") or dict(parse_qsl(parts.query)).get("dbname", "")
