"""A no-op's output replayed (replay.py) or noted for the next run: the tasks' side, which prints and reads stdout and
stderr. Imports nothing heavy: `dbtasks upgrade-all` at head reaches it before the tasks are loaded."""

from __future__ import annotations

import contextlib
import os
import sys

from .. import replay

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from ..session import Session


# The commands this process has looked up already, without an answer: `dbtasks` looks before loading the tasks, and
# the task's wrapper (registry.py) then does not look again (__main__.py empties it when the command ends).
looked: set[tuple[str, ...]] = set()


def answered(config_file: Path, key: list[str], *, remember: bool = False) -> bool:
    """Whether the last run of the command `key` was a no-op that still holds, its output now written again
    (`remember`: a miss is noted in `looked`)."""
    if tuple(key) in looked:
        return False
    said = replay.answer(config_file, key)
    if said is None:
        if remember:
            looked.add(tuple(key))
        return False
    try:
        for stream, text in said:
            (sys.stdout if stream == 1 else sys.stderr).write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `dbtasks status | head`: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True


@contextlib.contextmanager
def noting(config_file: Path, key: list[str], session: Session, noted: tuple[bytes, int] | None) -> Iterator[None]:
    """Run the block with what it writes to stdout and stderr noted; when it ends normally, the run is recorded
    (replay.record decides whether it was a no-op it can replay; `noted`: replay.before, taken before the project
    was loaded)."""
    chunks: list[tuple[int, str]] = []
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Noted(sys.stdout, 1, chunks), _Noted(sys.stderr, 2, chunks)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
    if noted is not None:
        replay.record(config_file, key, session, chunks, noted)


class _Noted:
    """A stream whose writes are also kept, in order with the other stream's."""

    def __init__(self, stream: Any, number: int, chunks: list[tuple[int, str]]) -> None:
        self._stream, self._number, self._chunks = stream, number, chunks

    def write(self, text: str) -> int:
        self._chunks.append((self._number, text))
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
