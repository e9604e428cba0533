"""Offline SQL of Alembic's multidb template: its env.py writes each engine's SQL into `<engine>.sql` in the folder it
runs in (`with open("%s.sql" % name, "w") as buffer: context.configure(output_buffer=buffer, ...)`). While
`captured` is active those opens get a buffer each instead: nothing is written into the service's folder, and the SQL
comes back to the operation, each engine's under a header of its own."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class Kept(io.StringIO):
    """A buffer that keeps its text when env.py closes it (leaving its `with open(...)` block)."""

    text = ""

    def close(self) -> None:
        self.text = self.getvalue()
        super().close()

    def value(self) -> str:
        return self.text if self.closed else self.getvalue()


@contextmanager
def captured(engines: Iterable[str] | None) -> Iterator[dict[str, Kept]]:
    """engine -> its buffer, for each `<engine>.sql` env.py opened for writing while the block ran (`engines`: the
    request's engines; none, nothing is replaced). A worker process runs one operation, so the builtin is replaced
    for that operation only."""
    files: dict[str, Kept] = {}
    engines = list(engines or ())
    if not engines:
        yield files
        return
    names = {f"{engine}.sql": engine for engine in engines}
    real = builtins.open

    def opening(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str) and file in names and ("w" in mode or "a" in mode):
            files[names[file]] = Kept()
            return files[names[file]]
        return real(file, mode, *args, **kwargs)

    builtins.open = opening
    try:
        yield files
    finally:
        builtins.open = real


def joined(files: dict[str, Kept]) -> str:
    """Every engine's SQL in the order env.py wrote them, each under `-- engine NAME`."""
    return "".join(f"-- engine {engine}\n{buffer.value()}" for engine, buffer in files.items())
