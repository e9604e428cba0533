"""What tells that a file (or folder) changed without reading it: its size, modification and change times and inode.

The caches (graph_cache.py, config/cache.py) and a replayed no-op (replay.py) compare these; standard library only,
so that a no-op's check imports nothing else.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def stat_of(path: str) -> list[int] | None:
    """[size, mtime_ns, ctime_ns, inode] of `path`, None when it is missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def stats(paths: Iterable[str]) -> list[Any]:
    """[path, its stat (None when missing), ...] for each path: equal lists, unchanged files."""
    return [item for path in paths for item in (path, stat_of(path))]
