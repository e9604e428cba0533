"""The seal of a cache entry: an HMAC of the entry (and of the migrations.yaml bytes it was made from) under a key
kept in the user's own cache folder, outside the repository. An entry edited by hand, or copied from elsewhere, does
not verify and is rebuilt: the cache can make a run faster, never different (protected, timeouts, `python:`)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a no-op replayed imports little)
if TYPE_CHECKING:
    from typing import Any

KEY_VARIABLE = "DBTASKS_CACHE_KEY_FILE"  # where the key is kept, when not ~/.cache/dbtasks/cache-key (tests)


def seal(entry: dict[str, Any], source: bytes) -> str | None:
    """The entry's seal, or None when no key can be kept here (then nothing is cached)."""
    key = _key()
    if key is None:
        return None
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\0" + source
    return digest(body, key)  # keyed BLAKE2b is a MAC of its own


def digest(body: bytes, key: bytes = b"", size: int = 32) -> str:
    """BLAKE2b of `body` (keyed when `key` is given), in hex."""
    try:  # the built-in module loads in microseconds, hashlib in milliseconds
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter without the built-in module
        from hashlib import blake2b
    return blake2b(body, key=key, digest_size=size).hexdigest()


def verifies(entry: dict[str, Any], source: bytes) -> bool:
    """Whether the entry (with its "seal") was sealed here, from these migrations.yaml bytes, and not changed since."""
    found = entry.get("seal")
    unsealed = {name: value for name, value in entry.items() if name != "seal"}
    expected = seal(unsealed, source)
    return isinstance(found, str) and expected is not None and found == expected  # a local file: no timing to fear


def _key_file() -> Path:
    if os.environ.get(KEY_VARIABLE):
        return Path(os.environ[KEY_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dbtasks" / "cache-key"


def _key() -> bytes | None:
    path = _key_file()
    with contextlib.suppress(OSError):
        data = path.read_bytes()
        if len(data) == 32:
            return data
    with contextlib.suppress(OSError):
        import secrets

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(made, path)  # atomic: of two runs making a key at once, one key wins and both read it
        except FileExistsError:
            pass
        finally:
            made.unlink()
        data = path.read_bytes()
        if len(data) == 32:
            return data
    return None
