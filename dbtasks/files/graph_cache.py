"""Each migration file's revision and down_revision, kept under .dbtasks/ between runs, keyed by the file's stat.

At 200 services x 20 migrations the fast path spent most of a no-op run parsing 4,000 files. A file is read again
whenever its path, size, modification time, change time or inode differ from what was recorded: an edit, a checkout
or a copy always changes one of them, so a stale entry is never used. A file read afresh is scanned with a regular
expression where that is exact (one plain literal assignment of each name, outside any triple-quoted string), else
parsed with ast as before.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..worker import checksums, revisions
from .stamps import stat_of as _stat
from .stamps import stats

Graph = dict[str, tuple[str, list[str]]]
# An Alembic environment's migration files, its env.py, and whether env.py may name its own version table.
Located = tuple[list[str], str, bool]
FILE_NAME = "revisions-cache.json"
_FORMAT = 4  # 2: each entry also holds the file's checksum (worker/checksums.py); 3: and the located memo; 4: keyed
# by the whole Alembic source (ini, folder, section, pyproject.toml)
# A top-level assignment of either name, the whole value on its line: `revision: str = "ab12"`, `down_revision = None`.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)[ \t]*(?::[^=\n]*)?=[ \t]*([^\n#]*?)[ \t]*(?:#[^\n]*)?$", re.MULTILINE)
_MENTION = re.compile(r"^(?:revision|down_revision)\b", re.MULTILINE)
_CUSTOM_VERSION_TABLE = re.compile(r"\bversion_table\s*=")


def scan(text: str) -> tuple[str, list[str]] | None:
    """(revision, down revisions) read by the regular expression, or None when only a parser can say for sure."""
    found: dict[str, Any] = {}
    matches = list(_ASSIGNMENT.finditer(text))
    if len(matches) != 2 or len(_MENTION.findall(text)) != 2:
        return None
    for match in matches:
        before = text[: match.start()]
        if before.count('"""') % 2 or before.count("'''") % 2:
            return None  # inside a docstring, or quotes this simple count cannot follow
        try:
            found[match[1]] = ast.literal_eval(match[2])
        except (ValueError, SyntaxError):
            return None
    revision, down = found.get("revision"), found.get("down_revision", 0)
    downs = [down] if isinstance(down, str) else list(down) if isinstance(down, (tuple, list)) else [] if down is None else None
    if not isinstance(revision, str) or downs is None or not all(isinstance(item, str) for item in downs):
        return None
    return revision, downs


def read_entry(path: str) -> tuple[str, list[str]] | None:
    """A file's (revision, down revisions): scanned where exact, else parsed; None when not plain literals."""
    return read_file(path)[0]


def read_file(path: str) -> tuple[tuple[str, list[str]] | None, str | None]:
    """A file's entry (read_entry) and its checksum, from one read; (None, None) when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it
    except OSError:
        return None, None
    except ValueError:
        return None, checksums.checksum(data)
    return _entry_of(path, text), checksums.checksum(data)


def _entry_of(path: str, text: str) -> tuple[str, list[str]] | None:
    scanned = scan(text)
    if scanned is not None:
        return scanned
    values = revisions.module_constants(path)
    revision, down = values.get("revision"), values.get("down_revision")
    downs = [down] if isinstance(down, str) else list(down or [])
    if not isinstance(revision, str) or not all(isinstance(item, str) for item in downs):
        return None
    return revision, downs


class GraphCache:
    """The entries of one project's cache file; `graph` reads through it, `save` writes it back when it changed."""

    def __init__(self, folder: Path | None) -> None:
        self.file = folder / FILE_NAME if folder is not None else None
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        self._guard = threading.Lock()  # a fleet's members read through one cache from several threads
        self._located: dict[tuple[str, ...], tuple[list[Any], Located | None]] = {}
        if self.file is not None:
            with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):  # a damaged file: read as empty
                loaded = json.loads(self.file.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and loaded.get("format") == _FORMAT and isinstance(loaded.get("files"), dict):
                    self.entries = loaded["files"]
                    self._located = {
                        tuple(key.split("\n")): (signature, (list(found[0]), str(found[1]), bool(found[2])))
                        for key, (signature, found) in loaded.get("located", {}).items()
                    }

    def graph(self, files: Iterable[str]) -> Graph | None:
        """revision -> (file, down revisions), as revisions.read_graph gives it; None when a file is not plain literals."""
        graph: Graph = {}
        for path in sorted(files):
            entry = self._entry(path)
            if entry is None or entry[0] in graph:
                return None
            graph[entry[0]] = (path, entry[1])
        return graph

    def located(self, source: dict[str, Any]) -> Located | None:
        """Where the environment configured by `source` (Service.alembic_source: alembic.ini, the folder Alembic runs
        in, the ini's section, pyproject.toml) keeps its files, None when only Alembic can say.

        Remembered (in the cache file too) while alembic.ini, env.py and each versions folder keep their stat (adding,
        removing or renaming a file changes its folder's): the next run, a fleet's members or a run's second look do not
        read them again."""
        key = (source["ini"], source["cwd"], source["section"], source["toml"] or "")
        memo = self._located.get(key)
        if memo is not None and memo[0] == stats(memo[0][0::2]):
            return memo[1]
        folders, env_py = revisions.version_folders(**source), revisions.environment_file(**source)
        if folders is None or env_py is None:
            return None
        signature = stats(
            [source["ini"], *([source["toml"]] if source["toml"] else []), env_py, *folders]
        )  # taken first: a change made while reading shows next time
        try:
            with open(env_py, encoding="utf-8") as handle:
                computes = bool(_CUSTOM_VERSION_TABLE.search(handle.read()))
        except (OSError, ValueError):
            computes = True  # unreadable: only the worker can say
        found: Located = (revisions.files_in(folders), env_py, computes)
        with self._guard:
            self._located[key] = (signature, found)
            self.changed = True
        return found

    def read_from(self, source: dict[str, Any]) -> list[Any]:
        """[path, stat, ...] of the files and folders `located(source)` and the graph of its revision files were read
        from, each stat as it was when read (replay.py); [] when they were not read through this cache."""
        memo = self._located.get((source["ini"], source["cwd"], source["section"], source["toml"] or ""))
        if memo is None or memo[1] is None or not all(path in self.entries for path in memo[1][0]):
            return []
        return [*memo[0], *(item for path in memo[1][0] for item in (path, self.entries[path][:4]))]

    def checksum(self, path: str) -> str | None:
        """The file's checksum (worker/checksums.py), read through the cache like its revision."""
        cached = self._cached(path)
        return cached[6] if cached is not None else None

    def _entry(self, path: str) -> tuple[str, list[str]] | None:
        cached = self._cached(path)
        if cached is None or cached[4] is None:
            return None
        return cached[4], list(cached[5])

    def _cached(self, path: str) -> list[Any] | None:
        """[size, mtime_ns, ctime_ns, inode, revision, down revisions, checksum], read again when the stat differs."""
        key = _stat(path)
        if key is None:
            return None
        cached = self.entries.get(path)
        if cached is not None and cached[:4] == key:
            return cached
        entry, digest = read_file(path)
        fresh = [*key, entry[0] if entry else None, entry[1] if entry else [], digest]
        with self._guard:
            self.entries[path] = fresh
            self.changed = True
        return fresh

    def save(self) -> None:
        """Write the cache back if it changed (atomically: a concurrent run reads the old file or the new one)."""
        with self._guard:
            if self.file is None or not self.changed:
                return
            self.changed = False
            entries = dict(self.entries)
            located = {"\n".join(key): memo for key, memo in self._located.items() if os.path.exists(key[3] or key[0])}
        live = {path: entry for path, entry in entries.items() if os.path.exists(path)}
        write_json(self.file, {"format": _FORMAT, "files": live, "located": located})


def write_json(file: Path, data: Any) -> None:
    """Write `data` to `file` in .dbtasks/ atomically (a concurrent run reads the old file or the new one); a folder
    that cannot be written is no error (the cache is only a cache)."""
    with contextlib.suppress(OSError):
        make_folder(file.parent)
        # a name of this process and thread alone (tempfile would cost a no-op its import), readable by its owner only
        temporary = file.with_name(f".{file.stem}-{os.getpid()}-{threading.get_ident()}.tmp")
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(temporary, file)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def make_folder(folder: Path) -> None:
    """.dbtasks/, ignored by git from the inside when we make it (a project that never ran `dbtasks init`)."""
    if not folder.is_dir():
        folder.mkdir()
        (folder / ".gitignore").write_text("# made by dbtasks: its local state, never committed\n*\n", encoding="utf-8")
