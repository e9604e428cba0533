"""Which PostgreSQL extensions a service's migrations need, read from their text (never run): the types, operator
classes and functions an extension brings, and the extensions a revision creates itself."""

from __future__ import annotations

import re

# What a migration writes when it needs the extension: SQLAlchemy types, operator classes, functions.
_USES = {
    "pg_trgm": re.compile(r"\bg(?:in|ist)_trgm_ops\b"),
    "hstore": re.compile(r"\bHSTORE\b|\bhstore\b"),
    "ltree": re.compile(r"\bLtreeType\b|\bltree\b|\blquery\b"),
    "postgis": re.compile(r"\bgeoalchemy2\b|\bGeometry\(|\bGeography\("),
    "vector": re.compile(r"\bpgvector\b|\bVector\("),
    "citext": re.compile(r"\bCITEXT\b|\bcitext\b"),
    "uuid-ossp": re.compile(r"\buuid_generate_v[14]\b"),
    "unaccent": re.compile(r"\bunaccent\("),
    "pgcrypto": re.compile(r"\bgen_random_bytes\(|\bgen_salt\("),
}
_CREATES = re.compile(r"""CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?["']?([A-Za-z_][\w-]*)""", re.IGNORECASE)


def needed(texts: list[str]) -> list[str]:
    """The extensions these migration files use and do not create themselves, sorted."""
    created = {name.lower() for text in texts for name in _CREATES.findall(text)}
    used = {name for name, pattern in _USES.items() for text in texts if pattern.search(text)}
    return sorted(used - created)


def created(texts: list[str]) -> set[str]:
    """The extensions these migration files create (CREATE EXTENSION ...)."""
    return {name.lower() for text in texts for name in _CREATES.findall(text)}
