"""The verbs for one service, one per task: each takes a Session and a Service and returns data.

Nothing here prints or exits: Alembic's lines go to the session's `emit`, failures are DbtasksErrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import explain, fastpath, settings
from .config.project import Service
from .errors import DbtasksError, RunFailed, UsageError, printable
from .session import Session
from .worker import revisions
from .worker.libpq import database_name


def upgrade(session: Session, service: Service, to: str = "head", allow_edited: bool = False) -> dict[str, Any]:
    """Upgrade to `to`; when there is something to apply, an applied revision edited since is refused in a protected
    environment (unless `allow_edited`), else warned about."""
    edited = "warn" if allow_edited or not session.protected() else "refuse"
    if (to or "head") != "head":
        return _warn(session, service, _locked_run(session, service, "upgrade", to=to, edited=edited))
    state = session.known_state(service)
    if state is not None and state.pending == 0:
        return {"applied": []}  # already at head: no worker, no lock
    with session.locked(service) as held:
        # Another run may have brought it to head while this one waited for the lock: then no worker either.
        state = session.known_state(service, fresh=True, held=held)
        if state is not None and state.pending == 0:
            return {"applied": []}
        from .database.provision import create_schemas, drop_empty_schemas

        # Its missing schemas are made here, on the lock's session, not on a connection of the worker's, and dropped
        # again when the run fails before recording a revision; none is missing when a revision is recorded in its one
        # schema. A schema it shares with other services is left to its worker, as before (they take turns there).
        there = state is not None and service.owned_schemas == (service.expected_version_table[0],)
        here = not there and service.create_schema and not session.project.shared_schemas(service)
        made: list[str] = []
        try:
            if here:
                create_schemas(held.catalog(), service, made, session.step(service).target.redact)
            data = session.run(service, "upgrade", lock=held, to="head", edited=edited, schemas_exist=there or here)
        except BaseException:
            drop_empty_schemas(held.catalog(), service, made)
            raise
        return _warn(session, service, {**data, "created_schemas": made} if made else data)


def create_databases(session: Session, services: list[Service]) -> list[str]:
    """--create-databases: each database the services' configured URLs name (a multidb service's engines' too) created
    where its server lacks it, before anything else connects; never in a protected environment. Returns the names."""
    from .database.provision import create_missing

    if session.protected():
        assert session.environment is not None
        raise UsageError(
            f"--create-databases is refused in protected environment {session.environment.name!r}: create its "
            "databases as an admin (CREATE DATABASE ...), then rerun without it"
        )
    targets = [session.configured_target(service) for service in services]
    targets += [session.configured_target(one) for service in services for one in service.engine_services().values()]
    return create_missing(targets, session.announce)


def _locked_run(session: Session, service: Service, op: Any, **args: Any) -> dict[str, Any]:
    """A writing operation under the service's migration lock, taken for it alone."""
    with session.locked(service) as held:
        return session.run(service, op, lock=held, **args)


def refuse_edited(session: Session, service: Service, allow_edited: bool, what: str) -> None:
    """In a protected environment, refuse `what` (a reset runs every downgrade, then records every checksum anew: the
    evidence of an edit would be gone) over applied revisions edited since, unless `allow_edited`."""
    if allow_edited or not session.protected():
        return
    edited = list(session.run(service, "checksums").get("edited") or [])
    if edited:
        raise DbtasksError(
            f"{service.name}: {explain.edited_files(edited)} after it was applied, and the environment is protected: "
            f"nothing was {what}; restore the file, or review the change and run 'inv db.checksums {service.name} "
            "--accept REV --yes', or rerun with --allow-edited"
        )


def _warn(session: Session, service: Service, data: dict[str, Any]) -> dict[str, Any]:
    """A warning line for each applied revision edited since, and for checksums the role could not record."""
    if data.get("bookkeeping"):
        session.announce(f"{service.name}: warning: {data['bookkeeping']}")
    if data.get("edited"):
        session.announce(
            f"{service.name}: warning: {explain.edited_files(data['edited'])} after it was applied; "
            f"see 'inv db.checksums {service.name}'"
        )
    return data


def downgrade(session: Session, service: Service, to: str = "-1", yes: bool = False) -> dict[str, Any]:
    to = to or "-1"
    session.require_yes(yes, service.name, f"downgrade to {to} runs the migrations' downgrade steps and may drop data", service)
    return _locked_run(session, service, "downgrade", to=to)


def reset(session: Session, service: Service, yes: bool = False, allow_edited: bool = False) -> dict[str, Any]:
    session.require_yes(
        yes, service.name, "reset downgrades to base (dropping the service's tables and data) and upgrades to head", service
    )
    session.expect_workers(2)
    with session.locked(service) as held:  # no other run may start in between
        refuse_edited(session, service, allow_edited, "reset")
        down = session.run(service, "downgrade", lock=held, to="base")
        up = session.run(service, "upgrade", lock=held, to="head")
        held.check()
    return {"applied": list(down["applied"]) + list(up["applied"])}


def stamp(session: Session, service: Service, revision: str, yes: bool = False) -> dict[str, Any]:
    if not revision:
        raise UsageError(f"{service.name}: missing REVISION: head, base or a revision id (see 'inv db.history {service.name}')")
    session.require_yes(yes, service.name, f"stamp {revision} rewrites the recorded revision without running migrations", service)
    return _locked_run(session, service, "stamp", revision=revision)


def generate(session: Session, service: Service, message: str, empty: bool = False) -> dict[str, Any]:
    if not message or not message.strip():
        raise UsageError(f'{service.name}: a message is required; pass -m "what the migration does"')
    return session.run(service, "generate", message=message.strip(), empty=empty)


def merge(session: Session, service: Service, message: str = "merge heads") -> dict[str, Any]:
    return session.run(service, "merge", message=message)


def check(session: Session, service: Service) -> dict[str, Any]:
    """One head, database at head, no autogenerate difference; the data carries the differences and the checksums."""
    return session.run(service, "check")


def edited_problem(name: str, data: Mapping[str, Any]) -> str | None:
    """check's verdict on the checksums: an applied revision edited since fails it (unknown and missing never do)."""
    edited = list((data.get("checksums") or {}).get("edited") or [])
    if not edited:
        return None
    return explain.edited_advice(name, edited, edited[0]["revision"] if len(edited) == 1 else "REV")


def checksum_notes(name: str, data: Mapping[str, Any], edited: bool = True) -> list[str]:
    """Lines for status and check: edited revisions (unless `edited` is False), and recorded ones no file defines."""
    sums = data.get("checksums") or {}
    lines = [explain.edited_advice(name, [entry], entry["revision"]) for entry in (sums.get("edited") or [] if edited else [])]
    for entry in sums.get("missing") or []:
        recorded = printable(f"{entry['revision']} ({entry.get('file')})")  # read from the database: escaped
        lines.append(f"{name}: revision {recorded} has a recorded checksum but no file defines it")
    return lines


def checksums(session: Session, service: Service, accept: str = "", yes: bool = False) -> dict[str, Any]:
    """Each applied revision's checksum state; `accept` (a revision, or 'all') records its current checksum first,
    under the service's migration lock (in a protected environment, with `yes`)."""
    if not accept:
        return session.run(service, "checksums")
    if session.protected():
        what = f"--accept {accept} re-records the checksum from the file as it is now"
        session.require_yes(yes, service.name, what, service)
    with session.locked(service):  # not a migration, but no run may apply or record revisions meanwhile
        return session.run(service, "checksums", accept=accept)


def raise_for_differences(name: str, data: Mapping[str, Any]) -> None:
    """check's verdict: models that differ from the database fail it."""
    differences = list(data.get("diffs") or [])
    if differences:
        raise RunFailed(
            f"{name}: the models differ from the database ({len(differences)} difference{'s' if len(differences) != 1 else ''} above); "
            f"run 'inv db.generate {name} -m \"...\"' and review the migration"
        )


def sql(session: Session, service: Service, start: str | None = None, end: str = "head") -> str:
    bounds: dict[str, Any] = {"from": start or None, "to": end or "head"}
    return str(session.run(service, "sql", offline=True, **bounds)["sql"])


def current(session: Session, service: Service) -> dict[str, Any]:
    """{"current": [...], "head": [...]}: from the fast path when it is certain, else from a worker."""
    state = session.known_state(service)
    if state is not None:
        return {"current": list(state.current), "head": [state.head]}
    return session.run(service, "current")


def history(session: Session, service: Service) -> dict[str, Any]:
    """{"revisions": [...]}, newest first: read from the files when the history is one plain line, else by Alembic."""
    found = fastpath.files_history(service, session.graphs)
    session.graphs.save()
    return {"revisions": found} if found is not None else session.run(service, "history", offline=True)


def heads(session: Session, service: Service) -> dict[str, Any]:
    graph = fastpath.file_graph(service, session.graphs) if settings.fastpath() else None
    session.graphs.save()
    return {"heads": revisions.heads(graph)} if graph else session.run(service, "heads", offline=True)


def status(session: Session, service: Service) -> dict[str, Any]:
    """{"service", "database", "schema", "current", "head", "pending", "state", "checksums"}: from the fast path when it
    is certain."""
    state = session.known_state(service)
    data: dict[str, Any]
    if state is not None:
        data = {**state.status(), "checksums": state.checksums(str(service.path), session.graphs)}
        session.graphs.save()
    else:
        data = session.run(service, "status")
    # checksums: None when nothing is applied, or the recorded revision is one no file defines
    row: dict[str, Any] = {**where(session, service), **status_fields(data), "checksums": data.get("checksums")}
    engines: list[dict[str, Any]] = list(data.get("engines") or [])
    if engines:  # multidb: a row for each other database its env.py reached, named service.engine
        engine_of = {database_name(target.url): engine for engine, target in session.engine_targets(service).items()}
        row["engines"] = [
            {
                "service": f"{service.name}.{engine_of.get(found['database'], found['database'])}",
                "database": found["database"],
                "schema": row["schema"],
                **status_fields({**found, "head": data.get("head")}),
                "checksums": None,
            }
            for found in engines
        ]
    return row


def where(session: Session, service: Service) -> dict[str, Any]:
    """The service and where it lives: its database's name and its schema(s)."""
    try:
        database = database_name(session.database(service).url)
    except DbtasksError:  # the reason is in the row's state
        database = service.database or "?"
    return {"service": service.name, "database": database, "schema": ", ".join(service.owned_schemas)}


def unread(session: Session, service: Service, state: str) -> dict[str, Any]:
    """The status row of a service whose status could not be read: where it lives, and `state` saying why."""
    return {**where(session, service), "current": None, "head": None, "pending": None, "state": state, "checksums": None}


def status_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """current/head/pending/state for the status table and its JSON."""
    heads, current_revisions = list(data.get("head") or []), list(data.get("current") or [])
    pending = data.get("pending")
    if len(heads) > 1:
        state = "multiple heads"
    elif data.get("unknown"):
        state = "unknown revision"
    elif not heads:
        state = "no migrations"
    elif not current_revisions and data.get("untracked"):
        state = "tables without revision"  # created before Alembic, or left by stamp base: see doctor
    elif not current_revisions:
        state = "not initialized"
    elif pending == 0:
        state = "up to date"
    else:
        state = "behind"
    return {"current": ",".join(current_revisions) or None, "head": ",".join(heads) or None, "pending": pending, "state": state}


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {path} ({error.strerror}); choose a file in a writable folder") from None


def sql_to_folder(session: Session, service: Service, folder: Path) -> dict[str, Any]:
    """Write the service's base-to-head SQL to <folder>/<service>.sql."""
    path = folder / f"{service.name}.sql"
    write_text(path, sql(session, service))
    return {"path": str(path)}


def describe_applied(data: Mapping[str, Any]) -> str:
    """'189b1231afd4 -> 3b7a1d2e4f56 (2 migrations)' from a worker's applied steps, or ''."""
    steps = [step for step in data.get("applied") or [] if not step.get("stamp")]
    stamps = [step for step in data.get("applied") or [] if step.get("stamp")]
    chosen = steps or stamps
    if not chosen:
        return ""
    start = ",".join(chosen[0]["from"]) or "base"
    end = ",".join(chosen[-1]["to"]) or "base"
    if stamps and not steps:
        return (
            f"bootstrapped {start} -> {end} (create_all, then stamp)" if data.get("bootstrapped") else f"stamped {start} -> {end}"
        )
    count = len({(tuple(step["from"]), tuple(step["to"])) for step in steps})  # multidb: one step per engine
    noun = "migration" if count == 1 else "migrations"
    return f"{start} -> {end} ({count} {noun})"


def recorded(data: Mapping[str, Any]) -> str:
    """What stamp leaves recorded."""
    return f"recorded revision is now {', '.join(data.get('current') or []) or 'base'} (no migration ran)"
