"""The table locks a statement of a migration takes, read from its text where PostgreSQL's documentation says it
plainly (the "Explicit Locking" chapter and each command's page): the plan shows them beside each statement, so a
reviewer sees which ones block reads (ACCESS EXCLUSIVE) or writes (SHARE and above) while they run. A statement whose
text does not name the table it locks (DROP INDEX names the index) is left out rather than guessed."""

from __future__ import annotations

import re

from .sql import top_level_comma

_PART = r'(?:"(?:[^"]|"")+"|[\w$]+)'
_NAME = rf"{_PART}(?:\.{_PART})?"
_TABLE = rf"(?P<table>{_NAME})"
_ALTER = rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_TABLE}\s+"
_INDEX = rf"(?:UNIQUE\s+)?INDEX\s+{{}}(?:IF\s+NOT\s+EXISTS\s+)?(?:{_NAME}\s+)?ON\s+(?:ONLY\s+)?{_TABLE}"
_CONCURRENT_INDEX = _INDEX.format(r"CONCURRENTLY\s+")
_PLAIN_INDEX = _INDEX.format("")
_OPTIONS = r"(?:\([^)]*\)\s+)?"
_MANY = rf"(?P<tables>{_NAME}(?:\s*,\s*{_NAME})*)"


def _rule(pattern: str, lock: str) -> tuple[re.Pattern[str], str]:
    """`pattern` compiled, its table groups numbered (each alternative names its own: table_0, table_1, ...)."""
    parts = pattern.split("(?P<table>")
    numbered = parts[0] + "".join(f"(?P<table_{index}>{part}" for index, part in enumerate(parts[1:]))
    return re.compile(numbered, re.IGNORECASE | re.DOTALL), lock


# ALTER TABLE's forms that take less than ACCESS EXCLUSIVE: only when one is the statement's one subcommand.
_ALTER_FORMS = (
    _rule(rf"{_ALTER}VALIDATE\s+CONSTRAINT\b", "SHARE UPDATE EXCLUSIVE"),
    _rule(rf"{_ALTER}ADD\s+(?:CONSTRAINT\s+{_PART}\s+)?FOREIGN\s+KEY\b", "SHARE ROW EXCLUSIVE"),
    _rule(rf"{_ALTER}ALTER\s+(?:COLUMN\s+)?{_PART}\s+SET\s+STATISTICS\b", "SHARE UPDATE EXCLUSIVE"),
)
# The first that matches wins; LOCK's lock is the mode it names ("" here).
_RULES = (
    _rule(
        rf"^(?:CREATE\s+{_CONCURRENT_INDEX}|REINDEX\s+{_OPTIONS}TABLE\s+CONCURRENTLY\s+{_TABLE})",
        "SHARE UPDATE EXCLUSIVE",
    ),
    _rule(rf"^(?:CREATE\s+{_PLAIN_INDEX}|REINDEX\s+{_OPTIONS}TABLE\s+{_TABLE})", "SHARE"),
    _rule(rf"^REFRESH\s+MATERIALIZED\s+VIEW\s+CONCURRENTLY\s+{_TABLE}", "EXCLUSIVE"),
    _rule(
        rf"^(?:{_ALTER[1:]}|(?:VACUUM\s+(?:\((?=[^)]*\bFULL\b)[^)]*\)|FULL(?:\s+(?:FREEZE|VERBOSE|ANALYZE))*)|CLUSTER(?:\s+\([^)]*\))?|REFRESH\s+MATERIALIZED\s+VIEW)\s+{_TABLE})",
        "ACCESS EXCLUSIVE",
    ),
    _rule(
        r"^(?:DROP\s+TABLE|TRUNCATE(?:\s+TABLE)?)\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<tables>.+?)(?:\s+(?:CASCADE|RESTRICT|RESTART\s+IDENTITY|CONTINUE\s+IDENTITY)\b.*)?$",
        "ACCESS EXCLUSIVE",
    ),
    _rule(rf"^LOCK\s+(?:TABLE\s+)?(?:ONLY\s+)?{_MANY}(?:\s+IN\s+(?P<mode>[A-Z ]+?)\s+MODE)?", ""),
    _rule(rf"^(?:UPDATE|DELETE\s+FROM|INSERT\s+INTO|MERGE\s+INTO)\s+(?:ONLY\s+)?{_TABLE}", "ROW EXCLUSIVE"),
)
_REFERENCES = re.compile(rf"\bREFERENCES\s+{_TABLE}", re.IGNORECASE)
_NAMES = re.compile(_NAME)
# Locks that block the table's readers (SELECT): only ACCESS EXCLUSIVE. Its writers: SHARE and above.
BLOCKS_READS = ("ACCESS EXCLUSIVE",)
BLOCKS_WRITES = ("SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")


def lock_of(statement: str) -> list[tuple[str, str]]:
    """[(table, lock)] the statement takes on existing tables, [] when its text does not say (CREATE TABLE, CREATE
    SCHEMA, DROP INDEX, a function call, ...)."""
    text = " ".join(statement.split())
    rules = _RULES if top_level_comma(text) else _ALTER_FORMS + _RULES
    for pattern, lock in rules:
        found = pattern.match(text)
        if found is None:
            continue
        groups = found.groupdict()
        if not lock:  # LOCK TABLE: the mode it names, ACCESS EXCLUSIVE when it names none
            lock = " ".join((groups.get("mode") or "ACCESS EXCLUSIVE").upper().split())
        named = [value for key, value in groups.items() if key.startswith("table_") and value]
        tables = _NAMES.findall(groups["tables"]) if groups.get("tables") else named[:1]
        taken = [(table, lock) for table in tables]
        if text[:5].upper() == "ALTER":  # a foreign key it adds locks the table it references too
            taken += [(referenced["table"], "SHARE ROW EXCLUSIVE") for referenced in _REFERENCES.finditer(text)]
        return taken
    if text[:12].upper() == "CREATE TABLE":  # a new table's foreign keys lock the tables they reference
        return [(referenced["table"], "SHARE ROW EXCLUSIVE") for referenced in _REFERENCES.finditer(text)]
    return []


def locks(statements: list[str], bookkeeping: str = "alembic_version") -> list[dict[str, str]]:
    """[{"statement", "table", "lock", "blocks"}] for the statements whose lock the text tells, leaving out Alembic's
    own writes to the version table; "blocks" is "reads and writes", "writes" or ""."""
    found = []
    for statement in statements:
        for table, lock in lock_of(statement):
            if table.split(".")[-1].strip('"') == bookkeeping:
                continue
            blocks = "reads and writes" if lock in BLOCKS_READS else "writes" if lock in BLOCKS_WRITES else ""
            found.append({"statement": " ".join(statement.split()), "table": table, "lock": lock, "blocks": blocks})
    return found
