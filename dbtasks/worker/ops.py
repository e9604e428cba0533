"""The operations a worker runs, one plain function each (as alembic.command has them): OPS maps a
request's op to its function. Each returns the data of a successful result or raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .failures import Failure
from .operation import Operation, defines, describe, pending_count


def upgrade(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    target = operation.args.get("to") or "head"
    if target == "head":
        operation.single_head(script)
    operation.resolve(script, target)
    created = operation.create_schemas()
    try:
        operation.run_command(command.upgrade, target)
    except BaseException:
        operation.drop_schemas(created)  # a first migration that failed leaves no empty schema behind
        raise
    return {"applied": operation.applied, "created_schemas": created}


def downgrade(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    target = operation.args.get("to") or "-1"
    operation.resolve(script, target)
    operation.run_command(command.downgrade, target)
    return {"applied": operation.applied}


def stamp(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    revision = operation.args["revision"]
    if revision == "head":
        operation.single_head(script)
    operation.resolve(script, revision, relative_ok=False)
    operation.create_schemas()  # its version table goes in one of them
    try:
        operation.run_command(command.stamp, revision)
    except Failure as failure:
        if failure.kind != "unknown_database_revision":
            raise
        # The recorded revision is one no file defines: replace it (the user confirmed with --yes).
        command.stamp(operation.config, revision, purge=True)
    # Read back what is recorded now: relative targets (-1) and purges make the steps a poor summary.
    return {"applied": operation.applied, "current": operation.database_heads(script)}


def current(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    return {"current": operation.database_heads(script), "head": list(script.get_heads())}


def status(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    heads = list(script.get_heads())
    current = operation.database_heads(script)
    known = [revision for revision in current if defines(script, revision)]
    pending = None
    if len(heads) == 1 and len(current) <= 1 and len(known) == len(current):
        pending = pending_count(script, heads[0], current)
    untracked = operation.untracked_tables() if not current else []
    unknown = [r for r in current if r not in known]
    return {"current": current, "head": heads, "pending": pending, "unknown": unknown, "untracked": untracked}


def heads(operation: Operation) -> dict[str, Any]:
    return {"heads": list(operation.script().get_heads())}


def history(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    head_set = set(script.get_heads())
    return {
        "revisions": [
            {
                "revision": rev.revision,
                "down_revision": list(rev._normalized_down_revisions),
                "doc": rev.doc or "",
                "head": rev.revision in head_set,
            }
            for rev in script.walk_revisions()
        ]
    }


def check(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    head = operation.single_head(script)
    try:
        diffs = operation.autogenerate(script, head)
    except Failure as failure:
        if failure.kind != "no_models":
            raise
        return {"diffs": [], "head": head, "skipped": str(failure)}  # hand-written migrations only: nothing to compare
    return {"diffs": [describe(diff) for diff in diffs], "head": head}


def generate(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    message = operation.args["message"]
    if operation.args.get("empty"):
        created = operation.write(script, lambda: command.revision(operation.config, message=message))
        return {"path": _path_of(created), "revision": _revision_of(created)}
    head = operation.single_head(script)
    context = operation.autogenerate_context(script)
    diffs = operation.autogenerate(script, head, context)
    if not diffs:
        return {"path": None, "revision": None}
    created = operation.write(script, lambda: list(context.generate_scripts()))
    return {"path": _path_of(created), "revision": _revision_of(created), "diffs": [describe(d) for d in diffs]}


def merge(operation: Operation) -> dict[str, Any]:
    from alembic import command

    head_list = list(operation.script().get_heads())
    if len(head_list) < 2:
        raise Failure("nothing_to_merge", "only one head", heads=head_list)
    created = command.merge(operation.config, "heads", message=operation.args.get("message") or "merge heads")
    return {"path": _path_of(created), "revision": _revision_of(created), "heads": head_list}


def sql(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    start, end = operation.args.get("from"), operation.args.get("to") or "head"
    if end == "head":
        operation.single_head(script)
    operation.resolve(script, start, relative_ok=False)
    operation.resolve(script, end, relative_ok=False)
    backwards = (end == "base" and start is not None) or (start is not None and _is_ancestor(script, end, start))
    if backwards:
        operation.run_command(command.downgrade, f"{start}:{end}", sql=True)
    else:
        operation.run_command(command.upgrade, f"{start}:{end}" if start else end, sql=True)
    return {"sql": operation.sql_buffer.getvalue()}


def verify(operation: Operation) -> dict[str, Any]:
    from .verify_checks import Verification

    return Verification(operation).run()


def doctor(operation: Operation) -> dict[str, Any]:
    from .doctor_checks import Diagnosis

    return Diagnosis(operation).run()


def revision_sql(operation: Operation) -> dict[str, Any]:
    from .per_revision import revision_sql as render

    return render(operation)


OPS: dict[str, Callable[[Operation], dict[str, Any]]] = {
    "upgrade": upgrade,
    "downgrade": downgrade,
    "stamp": stamp,
    "current": current,
    "status": status,
    "heads": heads,
    "history": history,
    "check": check,
    "generate": generate,
    "merge": merge,
    "sql": sql,
    "verify": verify,
    "doctor": doctor,
    "revision_sql": revision_sql,
}


def _is_ancestor(script: Any, older: str, newer: str) -> bool:
    try:
        return any(True for _ in script.iterate_revisions(newer, older)) and older != newer
    except Exception:
        return False


def _path_of(created: Any) -> str | None:
    scripts = created if isinstance(created, list) else [created]
    return scripts[-1].path if scripts and scripts[-1] is not None else None


def _revision_of(created: Any) -> str | None:
    scripts = created if isinstance(created, list) else [created]
    return scripts[-1].revision if scripts and scripts[-1] is not None else None
