"""A URL libpq (psycopg2) and asyncpg both accept: no +driver, sslmode rather than ssl, only keys libpq knows.

Used by the parent (its own connections: lock, fast path, doctor, scratch databases) and by the worker
(verify's catalog snapshots). Standard library only, Python 3.8 at run time.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

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
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), parts.fragment))


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def database_name(url: str | None) -> str:
    """The database a URL names (its path, or a dbname= query)."""
    parts = urlsplit(url or "")
    return parts.path.lstrip("/") or dict(parse_qsl(parts.query)).get("dbname", "")
