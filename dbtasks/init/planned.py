"""What init decides for each service (Planned) and for the monorepo (Plan): the shapes plan.py fills and write.py
renders."""

from __future__ import annotations

from dataclasses import dataclass, field

from .scan import UNKNOWN, ServiceScan


@dataclass
class Planned:
    """One service as migrations.yaml will declare it, with the comments that say why."""

    name: str
    label: str  # its folder relative to the monorepo, for messages
    path: str
    scan: ServiceScan
    driver: str = "psycopg2"
    schemas: list[str] = field(default_factory=list)
    database: str | None = None
    version_table: str | None = None
    url_env: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    depends_on: list[str] = field(default_factory=list)
    expect_tables: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    version_source: str = ""  # what says where its version table is
    alone: str = ""  # the line about it alone, when it shares its version table's place (--update says it)

    @property
    def version_key(self) -> tuple[str, str]:
        """(schema, table) of its version table as migrations.yaml's loader will see it."""
        table = self.version_table or (self.scan.version_table if known(self.scan.version_table) else None)
        return (self.schemas[0], table or "alembic_version")


@dataclass
class Plan:
    services: list[Planned]
    notes: list[str]  # one line per thing init could not decide, with what to fill in


def known(value: str | None) -> bool:
    """A value init read (not None, not one env.py computes at run time)."""
    return value is not None and value != UNKNOWN
