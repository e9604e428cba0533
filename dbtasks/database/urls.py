"""Database URLs: validate them, normalize them to a service's driver, and hide their secrets (masking.py masks passwords)."""

from __future__ import annotations

import functools
import json
import os
import re
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes, urlsplit

from ..errors import ConfigError
from ..settings import digits
from ..worker.libpq import KEYS as LIBPQ_KEYS
from ..worker.libpq import unsplit
from .masking import mask

DRIVERS = ("asyncpg", "psycopg2", "psycopg")  # psycopg: psycopg 3
_SCHEMES = ("postgres", "postgresql")
# Offline SQL rendering never connects, but env.py files still want a URL to read.
OFFLINE_URL = "postgresql://offline@localhost/offline"
_HOST = re.compile(r"[A-Za-z0-9._~\[\]:%,-]*")
# Characters a password must not hold raw in a URL (each ends the password or the host for some parser).
_RAW = {" ": "%20", "/": "%2F", "#": "%23", "?": "%3F", "@": "%40", "%": "%25"}
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def password_of(url: str) -> str | None:
    """The password as written in `url`, also when raw characters (/ ? # space) make URL parsers misread it."""
    _head, separator, rest = url.partition("://")
    if not separator:
        return None
    cut = min((rest.find(char) for char in "/?#" if char in rest), default=len(rest))
    at = rest.rfind("@", 0, cut)
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        return password if colon else None
    # No userinfo before the path: a raw / ? or # in the password may hide it, if a host follows a later @.
    at = rest.rfind("@")
    host = _HOST.match(rest, at + 1) if at >= 0 else None
    if host is None or (host.end() < len(rest) and rest[host.end()] not in "/?#"):
        return None
    user, colon, password = rest[:at].partition(":")
    if colon and password[: cut - len(user) - 1].isdigit():
        # 'host:5432/db?x=a@b' has no password (the @ is in its query or path), while 'user:123/x@host/db' has one:
        # digits then a raw '/' are a password only when no query starts before the @ and a path follows the host.
        query = rest[cut + 1 : at]
        if "?" in query or "#" in query or rest[host.end() : host.end() + 1] != "/":
            return None
    return password if colon else None


def secrets_of(url: str) -> list[str]:
    """Every spelling of the URL's password that could show up in output (as written and decoded), in its userinfo or
    in a ?password= of its query."""
    found = {password_of(url) or ""}
    _head, _, query = url.partition("?")
    for pair in query.partition("#")[0].split("&"):
        key, _, value = pair.partition("=")
        if unquote(key) == "password":
            found.add(value)
    spellings = {spelling for raw in found if raw for spelling in (raw, unquote(raw))}
    return sorted(spellings, key=len, reverse=True)


def hide(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every spelling of each secret (raw, decoded, percent-encoded in any case, + for space) as ***."""
    return _spellings(secrets).sub("***", text) if secrets else text


@functools.lru_cache(maxsize=64)
def _spellings(secrets: tuple[str, ...]) -> re.Pattern[str]:
    plain = {unquote(secret) for secret in secrets} | set(secrets)
    escaped = {json.dumps(secret)[1:-1] for secret in plain}  # as a JSON string holds it (env.py printing json.dumps)
    alternatives = sorted(plain | escaped, key=len, reverse=True)
    return re.compile("|".join("".join(_any_spelling(char) for char in secret) for secret in alternatives if secret))


def _any_spelling(char: str) -> str:
    encoded = "".join("%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}") for byte in char.encode())
    plus = "|\\+" if char == " " else ""
    return f"(?:{re.escape(char)}|{encoded}{plus})"


def _raw_character(password: str) -> str | None:
    """The first character of a password that must be percent-encoded in a URL, if any."""
    for index, char in enumerate(password):
        if char in _RAW and (char != "%" or _BAD_ESCAPE.match(password, index)):
            return char
    return None


def validate(url: str, source: str) -> None:
    """Raise ConfigError unless `url` is a PostgreSQL URL; `source` names where it came from.

    A password with a character URL parsers misread is refused without showing the URL: any part of it may be the password.
    """
    if "\0" in url:
        raise ConfigError([f"{source}: the URL contains a NUL character; remove it"])
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is not UTF-8 in the variable (os.environ keeps it as a surrogate)
        raise ConfigError(
            [f"{source}: the URL holds a byte that is not UTF-8 text; percent-encode it (%FF for byte 0xff)"]
        ) from None
    password = password_of(url)
    try:
        unquote_to_bytes(password or "").decode("utf-8")
    except UnicodeDecodeError:  # no server takes it (a password is text), and drivers fail on it with a traceback
        raise ConfigError([f"{source}: the password in the URL percent-encodes bytes that are not UTF-8 text; fix it"]) from None
    raw = _raw_character(password) if password else None
    if raw is not None:
        what = "a space" if raw == " " else f"a raw {raw!r}"
        raise ConfigError([f"{source}: the password in the URL contains {what}; percent-encode it as {_RAW[raw]}"])
    shown = hide(mask(url), tuple(secrets_of(url)))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        reason = hide(mask(str(error)), tuple(secrets_of(url)))
        raise ConfigError([f"{source}: malformed URL {shown!r} ({reason}); fix the variable"]) from None
    if parts.netloc.count("@") > 1:
        raise ConfigError([f"{source}: the password in {shown!r} contains a raw '@'; percent-encode it as %40"])
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            [f"{source}: expected a postgresql:// URL, got {shown!r}; set it to postgresql://user:password@host:5432/dbname"]
        )
    if not parts.path.strip("/") and "dbname" not in dict(parse_qsl(parts.query)):
        raise ConfigError([f"{source}: URL {shown!r} names no database; add /dbname to it"])


# libpq lets a URL's query name the parts its body names (and prefers the query's); the drivers do not all read them
# there (asyncpg drops dbname=, and connects to the database named after the user). canonical() moves each into the
# one place every driver reads, so that psycopg2, psycopg 3, asyncpg and every URL derived from it (a service's own
# database, verify's scratch database, a fleet member) reach the same server and database.
_IN_THE_BODY = ("dbname", "host", "port", "user", "password")
# Query parameters that would send some drivers elsewhere than others: refused, with what to write instead.
_REFUSED = {
    "service": "a pg_service.conf entry, which asyncpg and SQLAlchemy do not read; write its host, port and database in the URL",
    "hostaddr": "an address that asyncpg does not read; write it as the URL's host",
}


_SEVERAL_HOSTS = "{source}: the URL names several hosts; dbtasks migrates one server: name only its primary"


def canonical(url: str, source: str) -> str:
    """`url` (already validated) with the database, host, port, user and password its query names moved into the URL
    itself, where every driver reads them; ConfigError naming the parameter when that cannot be done unambiguously."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key in _IN_THE_BODY or key in _REFUSED for key, _ in pairs) and "," not in parts.netloc:
        return url
    moved: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for key, value in pairs:
        if key in _REFUSED:
            raise ConfigError([f"{source}: the URL's ?{key}= names {_REFUSED[key]}"])
        if key not in _IN_THE_BODY:
            kept.append((key, value))
        elif key in moved:
            raise ConfigError([f"{source}: the URL names ?{key}= twice in its query; keep one"])
        else:
            moved[key] = value
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    host, port = _host_and_port(hostport, source)
    body = {
        "dbname": unquote(parts.path[1:]),
        "host": unquote(host),
        "port": port,
        "user": unquote(user),
        "password": unquote(password) if colon else "",
    }
    for key, value in moved.items():
        if body[key] and value and body[key] != value:
            what = "a password" if key == "password" else f"{key} {body[key]!r}"
            also = "another" if key == "password" else repr(value)
            raise ConfigError([f"{source}: the URL names {what} and {also} in ?{key}= (libpq takes the second); keep one"])
    database = moved.get("dbname") or body["dbname"]
    if "=" in database or "://" in database:
        raise ConfigError([f"{source}: the URL's database name holds a connection string; write only the database's name"])
    if "dbname" in moved and quote(database, safe="") != database:  # SQLAlchemy 2.0 keeps %20 in a path, 2.1 decodes it
        raise ConfigError(
            [
                f"{source}: the URL's ?dbname={database!r} would need percent-encoding in the URL's path, which not every "
                "driver decodes; name the database with letters, digits, _ - . ~ only"
            ]
        )
    if moved.get("host", "").startswith("/"):  # a Unix-socket folder: every driver reads it (and its port) from the query
        kept += [(key, moved.pop(key)) for key in ("host", "port") if key in moved]
    if "," in (moved.get("host") or host):
        raise ConfigError([_SEVERAL_HOSTS.format(source=source)])
    number = moved.get("port") or port or "5432"
    if not (digits(number) and 0 < int(number) < 65536):
        raise ConfigError([f"{source}: the URL's port {number!r} is not a port number (1-65535); fix it"])
    if "user" in moved or "password" in moved:
        name = quote(moved.get("user") or body["user"], safe="")
        secret = moved.get("password") or body["password"]
        userinfo, at = name + (":" + quote(secret, safe="") if secret else ""), "@"
    if "host" in moved or "port" in moved:
        name = moved.get("host") or body["host"]
        host = f"[{name}]" if ":" in name else quote(name, safe="")
        port = moved.get("port") or port
    netloc = f"{userinfo}{at}{host}{':' + port if port else ''}"
    path = "/" + quote(database, safe="") if "dbname" in moved else parts.path
    return unsplit(parts.scheme, netloc, path, kept)


def _host_and_port(hostport: str, source: str) -> tuple[str, str]:
    """The host and port as written after the userinfo ('[::1]:5432', 'db:5432', 'db')."""
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if "," in hostport:
        raise ConfigError([_SEVERAL_HOSTS.format(source=source)])
    host, _, port = hostport.partition(":")
    return host, port


# What SQLAlchemy's asyncpg dialect may hand asyncpg.connect() from a URL's query, as the strings a query holds:
# the rest (connect_timeout, application_name, options, keepalives, pgbouncer=true...) is a TypeError there.
_ASYNCPG_KEYS = frozenset(
    (
        "ssl",
        "host",
        "port",
        "passfile",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "command_timeout",
        "prepared_statement_cache_size",
    )
)


def normalize(url: str, driver: str) -> str:
    """Rewrite `url` for `driver`: scheme postgresql+<driver>, sslmode/ssl in the form the driver reads, and only the
    query parameters the driver accepts (see dropped_parameters)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in _translated(parts.query, driver) if _accepts(driver, key)]
    return unsplit(f"postgresql+{driver}", parts.netloc, parts.path, query)


def dropped_parameters(url: str, driver: str) -> list[str]:
    """The query parameters of `url` that normalize leaves out for `driver` and no variable carries (doctor names them)."""
    carried = _SSL_FILE_VARIABLES if driver == "asyncpg" else {}
    return [key for key, _ in _translated(urlsplit(url).query, driver) if not _accepts(driver, key) and key not in carried]


# SQLAlchemy hands asyncpg only the TLS mode, never the certificate files a URL names; asyncpg reads these variables
# (as libpq does) when it builds its TLS context from the mode, so the files reach it through the worker's environment.
_SSL_FILE_VARIABLES = {"sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL"}


def ssl_file_environment(url: str, driver: str) -> dict[str, str]:
    """The PGSSL* variables that carry `url`'s certificate files to `driver` (asyncpg only), as absolute paths."""
    if driver != "asyncpg":
        return {}
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return {variable: os.path.abspath(query[key]) for key, variable in _SSL_FILE_VARIABLES.items() if query.get(key)}


def _translated(query: str, driver: str) -> list[tuple[str, str]]:
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if driver == "asyncpg" and key == "sslmode":
            key = "ssl"
        elif driver in ("psycopg2", "psycopg") and key == "ssl":
            key, value = "sslmode", {"true": "require", "false": "disable"}.get(value.lower(), value)
        pairs.append((key, value))
    return pairs


def _accepts(driver: str, key: str) -> bool:
    return key in (_ASYNCPG_KEYS if driver == "asyncpg" else LIBPQ_KEYS)


# A variable whose name says it holds a secret (POSTGRES_PASSWORD, DB_PW, ADMIN_PWD, API_TOKEN, ...): its value is
# hidden from output and keeps migrations.yaml out of the config cache.
SECRET_NAME = re.compile(r"PASS|PWD|(^|_)PW($|_)|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)

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
