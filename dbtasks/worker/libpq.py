"""A URL libpq (psycopg2) and asyncpg both accept: no +driver, sslmode rather than ssl, only keys libpq knows.

Used by the parent (its own connections: lock, fast path, doctor, scratch databases) and by the worker
(verify's catalog snapshots). Standard library only, Python 3.8 at run time.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

# What libpq accepts in a URL's query; anything else (pgbouncer=true, asyncpg options) makes it refuse the URL.
_KEYWORDS = (
    "host hostaddr port dbname user password passfile channel_binding connect_timeout client_encoding options "
    "application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count "
    "tcp_user_timeout replication gssencmode sslmode sslnegotiation sslcompression sslcert sslkey sslpassword "
    "sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version "
    "krbsrvname gsslib gssdelegation service target_session_attrs load_balance_hosts"
)
KEYS = frozenset(_KEYWORDS.split())
_SSL_VALUES = {"true": "require", "false": "disable"}


def libpq(url: str) -> str:
    """`url` as a plain postgresql:// URL with the query keys libpq knows (ssl= becomes sslmode=)."""
    parts = urlsplit(url)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "ssl":
            key, value = "sslmode", _SSL_VALUES.get(value.lower(), value)
        if key in KEYS:
            query.append((key, value))
    return unsplit("postgresql", parts.netloc, parts.path, query)


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server (a dbname= in its query, which libpq would prefer, left out)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "dbname"]
    return unsplit(parts.scheme, parts.netloc, f"/{name}", query)


def unsplit(scheme: str, netloc: str, path: str, query: list[tuple[str, str]]) -> str:
    """A URL of these parts, with '//' also when there is no host (a Unix socket), which urlunsplit would drop."""
    encoded = urlencode(query, quote_via=quote)
    return f"{scheme}://{netloc}{path}" + (f"?{encoded}" if encoded else "")


def database_name(url: str | None) -> str:
    """The database a URL names: a dbname= of its query (which libpq prefers), else its path."""
    parts = urlsplit(url or "")
    return dict(parse_qsl(parts.query)).get("dbname") or parts.path.lstrip("/")
