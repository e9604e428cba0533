"""The operations a worker runs, one plain function each (as alembic.command has them): OPS maps a
request's op to its function. Each returns the data of a successful result or raises."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from . import applied, bootstrap, branches, engine_files
from .failures import Failure
from .operation import Operation, defines, describe, pending_count

# Two services creating the same schema, extension or type at once (CREATE ... IF NOT EXISTS is not safe under
# concurrency) fail one of them on the catalog's unique index; that migration was rolled back, and upgrading again
# finds the object there.
_CATALOG_RACE = re.compile(r"pg_(namespace_nspname|extension_name|type_typname_nsp)_index")
_CATALOG_RACE_ATTEMPTS = 3


def upgrade(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    target = operation.args.get("to") or "head"
    if target == "head":
        operation.single_head(script)
    operation.resolve(script, target)
    created = operation.create_schemas()
    edited: list[dict[str, Any]] = []
    wanted = branches.spelled(operation.branch, target)
    try:
        prepared = operation.prepare()
        if bootstrap.wanted(operation, target):
            bootstrap.run(operation)
            return {"applied": operation.applied, "created_schemas": created, "prepared": prepared, "bootstrapped": True}
        mode = operation.args.get("edited")
        for attempt in range(_CATALOG_RACE_ATTEMPTS):
            try:
                operation.run_command(_upgrade_checked(operation, script, mode, edited) if mode else command.upgrade, wanted)
                break
            except Exception as error:
                if attempt + 1 == _CATALOG_RACE_ATTEMPTS or not _CATALOG_RACE.search(str(error)):
                    raise
                edited.clear()
                time.sleep(0.05 * (attempt + 1))  # the other run's CREATE ... IF NOT EXISTS has committed by now
    except BaseException:
        operation.drop_schemas(created)  # a first migration that failed leaves no empty schema behind
        raise
    done = {"applied": operation.applied, "created_schemas": created, "edited": edited, "prepared": prepared}
    return {**done, "bookkeeping": operation.bookkeeping} if operation.bookkeeping else done


def _upgrade_checked(operation: Operation, script: Any, mode: str, edited: list[dict[str, Any]]) -> Any:
    """command.upgrade that first compares the applied revisions with their recorded checksums, in the same run of
    env.py, when there is something to apply: `mode` "refuse" fails before the first migration, "warn" reports them."""
    from alembic.runtime.environment import EnvironmentContext

    def upgrade(config: Any, revision: str) -> None:
        def steps(heads: Any, context: Any) -> Any:
            planned = script._upgrade_revs(revision, heads)
            if planned:
                edited.extend(applied.verdict(operation, script, list(heads), context.connection)["edited"])
                if edited and mode == "refuse":
                    raise applied.edited_failure(operation, edited)
            return planned

        with EnvironmentContext(config, script, fn=steps, as_sql=False, starting_rev=None, destination_rev=revision):
            script.run_env()

    return upgrade


def downgrade(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    target = operation.args.get("to") or "-1"
    operation.resolve(script, target)
    if not operation.version_schema_exists():  # never migrated (Alembic would fail creating its table there)
        if target == "base":
            return {"applied": []}  # nothing to revert
        raise Failure("out_of_range", f"nothing is applied, so there is no {target} to go down to", revision=target)
    operation.run_command(command.downgrade, branches.spelled(operation.branch, target))
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
        operation.run_command(command.stamp, branches.spelled(operation.branch, revision))
    except Failure as failure:
        if failure.kind != "unknown_database_revision" or operation.branch:  # a purge would empty the other branches' rows
            raise
        # The recorded revision is one no file defines: replace it (the user confirmed with --yes).
        command.stamp(operation.config, revision, purge=True)
    # Read back what is recorded now: relative targets (-1) and purges make the steps a poor summary.
    return {"applied": operation.applied, "current": operation.database_heads(script)}


def current(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    return {"current": operation.database_heads(script), "head": branches.heads(script, operation.branch)}


def status(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    heads = branches.heads(script, operation.branch)
    everything = operation.database_heads(script, everything=True)
    current = branches.mine(script, operation.branch, everything)
    known = [revision for revision in current if defines(script, revision)]
    pending = None
    if operation.branch and len(heads) == 1 and all(defines(script, revision) for revision in everything):
        pending = len(script._upgrade_revs(f"{operation.branch}@head", everything))  # with what it depends on
    elif len(heads) == 1 and len(current) <= 1 and len(known) == len(current):
        pending = pending_count(script, heads[0], current)
    # A branch shares its schema with the other branches' tables: none of them is "without a revision" of its own.
    untracked = operation.untracked_tables() if not current and not operation.branch else []
    unknown = [r for r in current if r not in known]
    found: dict[str, Any] = {"current": current, "head": heads, "pending": pending, "unknown": unknown, "untracked": untracked}
    if current and not unknown:
        found["checksums"] = _summary(applied.verdict(operation, script, current))
    if operation.request.get("engines"):
        found.update(_per_database(operation, script, heads))
    return found


def _per_database(operation: Operation, script: Any, heads: list[str]) -> dict[str, Any]:
    """multidb: the service's own database's revisions (when env.py reached it) and every other database's, each with
    its pending count, so that an engine left behind shows."""
    from sqlalchemy.engine.url import make_url

    own = str(make_url(operation.url).database or "")
    found: dict[str, Any] = {}
    if own in operation.heads_by_database:
        found.update(_counted(script, heads, operation.heads_by_database[own]))
    found["engines"] = [
        {"database": database, **_counted(script, heads, current)}
        for database, current in operation.heads_by_database.items()
        if database != own
    ]
    return found


def _counted(script: Any, heads: list[str], current: list[str]) -> dict[str, Any]:
    known = all(defines(script, revision) for revision in current)
    pending = pending_count(script, heads[0], current) if len(heads) == 1 and len(current) <= 1 and known else None
    return {"current": current, "pending": pending, "unknown": [r for r in current if not defines(script, r)]}


def _summary(verdict: dict[str, Any]) -> dict[str, Any]:
    """What status and check report of the checksums: edited, missing and unknown revisions."""
    return {key: verdict[key] for key in ("edited", "missing", "unknown")}


def heads(operation: Operation) -> dict[str, Any]:
    return {"heads": branches.heads(operation.script(), operation.branch)}


def history(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    head_set = set(branches.heads(script, operation.branch))
    label = operation.branch
    return {
        "revisions": [
            {
                "revision": rev.revision,
                "down_revision": list(rev._normalized_down_revisions),
                "doc": rev.doc or "",
                "head": rev.revision in head_set,
            }
            for rev in script.walk_revisions()
            if not label or label in rev.branch_labels
        ]
    }


def check(operation: Operation) -> dict[str, Any]:
    script = operation.script()
    head = operation.single_head(script)
    heads = [head] if head else []
    judged: list[dict[str, Any]] = []  # the checksums, read on env.py's connection: no second connection

    def checksums_there(connection: Any) -> None:
        judged.append(applied.verdict(operation, script, heads, connection))

    try:
        diffs = operation.autogenerate(script, head, during=checksums_there)
    except Failure as failure:
        if failure.kind != "no_models":
            raise
        sums = _summary(judged[0] if judged else applied.verdict(operation, script, heads))
        return {"diffs": [], "head": head, "skipped": str(failure), "checksums": sums}  # hand-written migrations only
    sums = _summary(judged[0] if judged else applied.verdict(operation, script, heads))  # env.py ran no migrations
    return {"diffs": [describe(diff) for diff in diffs], "head": head, "checksums": sums}


def checksums(operation: Operation) -> dict[str, Any]:
    """Each applied revision's checksum state; with `accept`, that revision's (or 'all') current checksum recorded first."""
    script = operation.script()
    current = operation.database_heads(script)
    unknown = [revision for revision in current if not defines(script, revision)]
    if unknown:
        raise Failure("unknown_database_revision", "unknown revision", revision=unknown[0])
    accepted = applied.accept(operation, script, current, operation.args["accept"]) if operation.args.get("accept") else []
    return {"current": current, "accepted": accepted, **applied.verdict(operation, script, current)}


def generate(operation: Operation) -> dict[str, Any]:
    from alembic import command

    script = operation.script()
    message = operation.args["message"]
    if operation.args.get("empty"):
        on = branches.spelled(operation.branch, "head") or "head"
        created = operation.write(script, lambda: command.revision(operation.config, message=message, head=on))
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
    with engine_files.captured(operation.request.get("engines")) as files:  # multidb: a file per engine
        if backwards:
            operation.run_command(command.downgrade, f"{start}:{end}", sql=True)
        else:
            operation.run_command(command.upgrade, f"{start}:{end}" if start else end, sql=True)
    return {"sql": operation.sql_buffer.getvalue() + engine_files.joined(files)}


def verify(operation: Operation) -> dict[str, Any]:
    if operation.request.get("engines"):  # the multidb template: every engine in a scratch database of its own
        from .verify_engines import EngineVerification

        return EngineVerification(operation).run()
    from .verify_checks import Verification

    return Verification(operation).run()


def doctor(operation: Operation) -> dict[str, Any]:
    from .doctor_checks import Diagnosis

    return Diagnosis(operation).run()


def revision_sql(operation: Operation) -> dict[str, Any]:
    from .per_revision import revision_sql as render

    return render(operation)


def match(operation: Operation) -> dict[str, Any]:
    from .matching import match as compare

    return compare(operation)


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
    "checksums": checksums,
    "match": match,
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
