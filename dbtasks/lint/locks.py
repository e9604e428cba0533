"""The table lock a statement of a migration takes, read from its text where PostgreSQL's documentation says it
plainly (the "Explicit Locking" chapter and each command's page): the plan shows it beside each statement, so a
reviewer sees which ones block reads (ACCESS EXCLUSIVE) or writes (SHARE and above) while they run."""

from __future__ import annotations

import re

_NAME = r'(?P<table>(?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)'
# (pattern, lock); the first that matches wins. ALTER TABLE's forms that take less than ACCESS EXCLUSIVE come first.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.DOTALL), lock)
    for pattern, lock in (
        (rf"^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b.*?\bON\s+(ONLY\s+)?{_NAME}", "SHARE UPDATE EXCLUSIVE"),
        (rf"^CREATE\s+(UNIQUE\s+)?INDEX\b.*?\bON\s+(ONLY\s+)?{_NAME}", "SHARE"),
        (rf"^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?{_NAME}\s+VALIDATE\s+CONSTRAINT\b", "SHARE UPDATE EXCLUSIVE"),
        (
            rf"^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?{_NAME}\s+ADD\s+(CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b",
            "SHARE ROW EXCLUSIVE",
        ),
        (
            rf"^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?{_NAME}\s+ALTER\s+COLUMN\s+\S+\s+SET\s+STATISTICS\b",
            "SHARE UPDATE EXCLUSIVE",
        ),
        (rf"^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^TRUNCATE\s+(TABLE\s+)?(ONLY\s+)?{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^DROP\s+INDEX\s+CONCURRENTLY\s+(IF\s+EXISTS\s+)?{_NAME}", "SHARE UPDATE EXCLUSIVE"),
        (rf"^DROP\s+INDEX\s+(IF\s+EXISTS\s+)?{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^REINDEX\s+(TABLE|INDEX)\s+CONCURRENTLY\s+{_NAME}", "SHARE UPDATE EXCLUSIVE"),
        (rf"^REINDEX\s+(TABLE|INDEX)\s+{_NAME}", "SHARE"),
        (rf"^VACUUM\s+FULL\s+{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^CLUSTER\s+{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^REFRESH\s+MATERIALIZED\s+VIEW\s+CONCURRENTLY\s+{_NAME}", "EXCLUSIVE"),
        (rf"^REFRESH\s+MATERIALIZED\s+VIEW\s+{_NAME}", "ACCESS EXCLUSIVE"),
        (rf"^(UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+(ONLY\s+)?{_NAME}", "ROW EXCLUSIVE"),
    )
)
# Locks that block the table's readers (SELECT): only ACCESS EXCLUSIVE. Its writers: SHARE and above.
BLOCKS_READS = ("ACCESS EXCLUSIVE",)
BLOCKS_WRITES = ("SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")


def lock_of(statement: str) -> tuple[str, str] | None:
    """(table, lock) the statement takes on an existing table, or None when its text does not say (CREATE TABLE,
    CREATE SCHEMA, a function call, ...)."""
    text = " ".join(statement.split())
    for pattern, lock in _RULES:
        found = pattern.match(text)
        if found:
            return found["table"], lock
    return None


def locks(statements: list[str], bookkeeping: str = "alembic_version") -> list[dict[str, str]]:
    """[{"statement", "table", "lock", "blocks"}] for the statements whose lock the text tells, leaving out Alembic's
    own writes to the version table; "blocks" is "reads and writes", "writes" or ""."""
    found = []
    for statement in statements:
        taken = lock_of(statement)
        if taken is None or taken[0].split(".")[-1].strip('"') == bookkeeping:
            continue
        table, lock = taken
        blocks = "reads and writes" if lock in BLOCKS_READS else "writes" if lock in BLOCKS_WRITES else ""
        found.append({"statement": " ".join(statement.split()), "table": table, "lock": lock, "blocks": blocks})
    return found
