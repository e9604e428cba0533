"""The parent's short catalog connections (the fast path, the reachability probe): libpq itself through ctypes, else psycopg2.

Importing psycopg2 costs about 16 ms (its extension loads Python's ssl, decimal and datetime modules); loading the
same libpq with ctypes costs about 3 ms, a tenth of a no-op run. These connections only read catalog names and
revisions as text, so a handful of libpq's functions do. The library is the one psycopg2-binary bundles (the same
connection behaviour, passfile and TLS as psycopg2), else the system's libpq.so.5; failing both, or with
DBTASKS_LIBPQ=psycopg2, psycopg2 is used. Every query runs with libpq's text protocol; values come back as str
(callers cast each column to text, which psycopg2 also returns as str).
"""

from __future__ import annotations

import ctypes
import os
import sys

from .. import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a no-op replayed imports little)
if TYPE_CHECKING:
    from typing import Any

_OK_STATUSES = (1, 2)  # PGRES_COMMAND_OK, PGRES_TUPLES_OK


class PgError(Exception):
    """libpq's (or psycopg2's) error message, whitespace collapsed."""


class Connection:
    """One connection: `rows(sql)` (every value text or None), `literal()` and `identifier()` to build SQL, `close()`."""

    def rows(self, sql: str) -> list[tuple[str | None, ...]]:
        raise NotImplementedError

    def literal(self, value: str) -> str:
        raise NotImplementedError

    def identifier(self, name: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str, timeout: int = settings.CONNECT_TIMEOUT) -> Connection:
    """A connection to the libpq URL `url` (worker.libpq.libpq's form), or PgError saying why not."""
    lib = _library()
    if lib is None:
        return _Psycopg2(url, timeout)
    return _Libpq(lib, url, timeout)


def implementation() -> str:
    """Which client connect() uses: the path of the libpq it loaded, or "psycopg2"."""
    lib = _library()
    return "psycopg2" if lib is None else str(lib._name)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Libpq(Connection):
    def __init__(self, lib: Any, url: str, timeout: int) -> None:
        self.lib = lib
        keys = (ctypes.c_char_p * 4)(b"dbname", b"connect_timeout", b"client_encoding", None)
        values = (ctypes.c_char_p * 4)(url.encode(), str(timeout).encode(), b"UTF8", None)
        self.conn = lib.PQconnectdbParams(keys, values, 1)  # 1: dbname is a URL whose keys expand in place
        if not self.conn:
            raise PgError("out of memory connecting")
        if lib.PQstatus(self.conn) != 0:  # CONNECTION_OK
            message = _one_line(lib.PQerrorMessage(self.conn).decode("utf-8", "replace"))
            self.close()
            raise PgError(message)

    def rows(self, sql: str) -> list[tuple[str | None, ...]]:
        lib = self.lib
        result = lib.PQexec(self.conn, sql.encode())
        try:
            if lib.PQresultStatus(result) not in _OK_STATUSES:
                message = lib.PQresultErrorMessage(result) if result else b""
                raise PgError(_one_line((message or lib.PQerrorMessage(self.conn)).decode("utf-8", "replace")))
            columns = range(lib.PQnfields(result))
            return [
                tuple(
                    None if lib.PQgetisnull(result, row, column) else lib.PQgetvalue(result, row, column).decode()
                    for column in columns
                )
                for row in range(lib.PQntuples(result))
            ]
        finally:
            lib.PQclear(result)

    def literal(self, value: str) -> str:
        return self._escaped(self.lib.PQescapeLiteral, value)

    def identifier(self, name: str) -> str:
        return self._escaped(self.lib.PQescapeIdentifier, name)

    def _escaped(self, escape: Any, text: str) -> str:
        data = text.encode()
        pointer = escape(self.conn, data, len(data))
        if not pointer:
            raise PgError(_one_line(self.lib.PQerrorMessage(self.conn).decode("utf-8", "replace")))
        try:
            return ctypes.string_at(pointer).decode()
        finally:
            self.lib.PQfreemem(pointer)

    def close(self) -> None:
        if self.conn:
            self.lib.PQfinish(self.conn)
            self.conn = None


class _Psycopg2(Connection):
    def __init__(self, url: str, timeout: int) -> None:
        import psycopg2

        self.psycopg2 = psycopg2
        try:
            self.conn = psycopg2.connect(url, connect_timeout=timeout)
        except psycopg2.Error as error:
            raise PgError(_one_line(str(error))) from None
        self.conn.autocommit = True

    def rows(self, sql: str) -> list[tuple[str | None, ...]]:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql)  # no parameters: psycopg2 leaves % alone
                found = cursor.fetchall() if cursor.description is not None else []
        except self.psycopg2.Error as error:
            raise PgError(_one_line(str(error))) from None
        return [tuple(None if value is None else str(value) for value in row) for row in found]

    def literal(self, value: str) -> str:
        from psycopg2.extensions import adapt

        adapted = adapt(value)
        adapted.prepare(self.conn)
        return str(adapted.getquoted().decode())

    def identifier(self, name: str) -> str:
        from psycopg2.extensions import quote_ident

        return str(quote_ident(name, self.conn))

    def close(self) -> None:
        self.conn.close()


class _Borrowed(_Psycopg2):
    """Another session's psycopg2 connection (the migration lock's), used under its owner's `guard`; never closed here."""

    def __init__(self, conn: Any, guard: Any) -> None:
        import psycopg2

        self.psycopg2, self.conn, self.guard = psycopg2, conn, guard

    def rows(self, sql: str) -> list[tuple[str | None, ...]]:
        with self.guard:
            return super().rows(sql)

    def close(self) -> None:
        pass


def borrowed(conn: Any, guard: Any) -> Connection:
    """A Connection over the open psycopg2 connection `conn` (autocommit), each query under `guard`."""
    return _Borrowed(conn, guard)


_loaded: list[Any] = []  # [the library, or None for psycopg2], once per process


def _library() -> Any:
    if not _loaded:
        _loaded.append(_load())
    return _loaded[0]


def _load() -> Any:
    chosen = os.environ.get(settings.LIBPQ, "")
    if chosen == "psycopg2":
        return None
    for candidate in [chosen] if chosen else _candidates():
        try:
            lib = ctypes.CDLL(candidate)
            _declare(lib)
        except (OSError, AttributeError):  # not there, or too old to have a function used here
            continue
        return lib
    return None


def _candidates() -> list[str]:
    """The libpq psycopg2-binary bundles (Linux wheels: psycopg2_binary.libs/, macOS: psycopg2/.dylibs/), then the system's."""
    found = []
    for entry in sys.path:
        for folder in (os.path.join(entry or ".", "psycopg2_binary.libs"), os.path.join(entry or ".", "psycopg2", ".dylibs")):
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            found += [os.path.join(folder, name) for name in names if name.startswith("libpq")]
    return [*found, "libpq.so.5", "libpq.5.dylib"]


def _declare(lib: Any) -> None:
    void_p, char_p, c_int, size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "PQconnectdbParams": (void_p, [ctypes.POINTER(char_p), ctypes.POINTER(char_p), c_int]),
        "PQstatus": (c_int, [void_p]),
        "PQerrorMessage": (char_p, [void_p]),
        "PQexec": (void_p, [void_p, char_p]),
        "PQresultStatus": (c_int, [void_p]),
        "PQresultErrorMessage": (char_p, [void_p]),
        "PQntuples": (c_int, [void_p]),
        "PQnfields": (c_int, [void_p]),
        "PQgetisnull": (c_int, [void_p, c_int, c_int]),
        "PQgetvalue": (char_p, [void_p, c_int, c_int]),
        "PQclear": (None, [void_p]),
        "PQescapeLiteral": (void_p, [void_p, char_p, size_t]),
        "PQescapeIdentifier": (void_p, [void_p, char_p, size_t]),
        "PQfreemem": (None, [void_p]),
        "PQfinish": (None, [void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
