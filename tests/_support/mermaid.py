"""Mermaid itself (the JavaScript library the code hosts draw Markdown's mermaid blocks with), fetched once from the
npm registry, its integrity checked, cached under ~/.cache, to parse the Mermaid dbtasks writes in a real browser."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

VERSION = "11.4.1"
TARBALL = f"https://registry.npmjs.org/mermaid/-/mermaid-{VERSION}.tgz"
# The registry's integrity of that tarball (npm view mermaid@11.4.1 dist.integrity).
INTEGRITY = "sha512-Mb01JT/x6CKDWaxigwfZYuYmDZ6xtrNwNlidKZwkSrDaY9n90tdrJTV5Umk+wP1fZscGptmKFXHsXMDEVZ+Q6A=="
CACHE = Path.home() / ".cache" / "dbtasks-tests" / f"mermaid-{VERSION}.min.js"


def mermaid_js() -> Path:
    """The path of mermaid.min.js (downloaded on the first call of a machine; the test is marked `network`)."""
    if CACHE.is_file():
        return CACHE
    with urllib.request.urlopen(TARBALL, timeout=120) as response:  # a fixed https URL
        data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert digest == INTEGRITY, f"{TARBALL}: integrity {digest}, expected {INTEGRITY}"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("package/dist/mermaid.min.js")
        assert member is not None, f"{TARBALL} has no package/dist/mermaid.min.js"
        script = member.read()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = CACHE.with_suffix(".part")
    partial.write_bytes(script)
    partial.replace(CACHE)
    return CACHE
