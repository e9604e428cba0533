"""Which revision a database's tables are at when no revision is recorded (adopt): the service's migrations applied
one at a time in the scratch database this worker runs against, each step's schema compared with the live one."""

from __future__ import annotations

from typing import Any

from . import catalog
from .operation import Operation


def match(operation: Operation) -> dict[str, Any]:
    """{"matches": [revisions whose schema is the live one], "steps": n, "closest": revision, "differences": [...]}"""
    from alembic import command

    script = operation.script()
    walked = list(reversed(list(script.walk_revisions("base", "heads"))))
    if len(script.get_heads()) > 1 or any(len(revision._all_down_revisions) > 1 for revision in walked):
        return {"matches": [], "steps": 0, "branched": True}
    schemas = list(operation.ownership.schemas)
    shared = set(operation.request.get("shared") or [])
    version_schema, version_table = operation.request["version_table"]
    live_connection = catalog.Connection(operation.args["live"])
    try:
        live = catalog.build(live_connection.rows(catalog.snapshot_sql(schemas)))
    finally:
        live_connection.close()
    scratch = catalog.Connection(operation.url)
    steps: list[tuple[str, dict[str, dict[Any, str]]]] = []
    try:
        operation.create_schemas(scratch)
        operation.prepare(scratch)
        # What was there before its first revision (its dependencies, brought to head in this database first).
        before = catalog.build(scratch.rows(catalog.snapshot_sql(schemas)))
        baseline = {name: _objects(before, name, version_schema, version_table) for name in schemas}
        for revision in walked:
            operation.run_command(command.upgrade, revision.revision)
            snapshot = catalog.build(scratch.rows(catalog.snapshot_sql(schemas)))
            steps.append((revision.revision, {name: _objects(snapshot, name, version_schema, version_table) for name in schemas}))
    finally:
        scratch.close()
    # What its own revisions make or change (not what its dependencies left there), in each schema.
    made = {
        name: {key for _, step in steps for key, value in step[name].items() if baseline[name].get(key) != value}
        for name in schemas
    }

    def seen(name: str, objects: dict[Any, str]) -> dict[Any, str]:
        """A schema other services share is compared on what the migrations make there; one of its own, whole."""
        return {key: value for key, value in objects.items() if key in made[name]} if name in shared else objects

    now = {name: seen(name, _objects(live, name, version_schema, version_table)) for name in schemas}
    if not any(now.values()):  # nothing of what its migrations make is there (a schema shared with other services)
        return {"matches": [], "steps": len(steps), "absent": True}
    matches = [revision for revision, step in steps if all(seen(name, step[name]) == now[name] for name in schemas)]
    if matches or not steps:
        return {"matches": matches, "steps": len(steps)}
    counted = [
        (sum(len(catalog.differences(seen(n, step[n]), now[n], n)) for n in schemas), revision, step) for revision, step in steps
    ]
    _, closest, step = min(counted, key=lambda item: item[0])
    lines = [line for name in schemas for line in catalog.differences(seen(name, step[name]), now[name], name)]
    return {"matches": [], "steps": len(steps), "closest": closest, "differences": lines}


def _objects(snapshot: Any, schema: str, version_schema: str, version_table: str) -> dict[Any, str]:
    return catalog.schema_objects(snapshot, schema, version_table if schema == version_schema else None)
