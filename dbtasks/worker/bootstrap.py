"""Alembic's cookbook recipe for a fresh database, as one step: the models' metadata.create_all(), then stamp head,
in one transaction under the parent's lock (the stamp's own, through env.py's connection), with the checksums a
stamp records. Only on a database where the service has no revision and none of its tables."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .failures import Failure, first_line
from .prerequisites import has_applied


def wanted(operation: Any, target: str) -> bool:
    """Whether this upgrade builds the database by bootstrap: declared, to head, and nothing applied yet."""
    if not operation.request.get("bootstrap") or target != "head":
        return False
    from .catalog import Connection

    connection = Connection(operation.url)
    try:
        return not has_applied(operation, connection)
    finally:
        connection.close()


def run(operation: Any) -> None:
    """create_all, then stamp head, in the stamp step's transaction; refused when the service's tables exist."""
    from alembic import command

    occupied = operation.untracked_tables()
    if occupied:
        raise Failure("bootstrap_occupied", "the service's tables exist", tables=occupied)
    with creating(operation, load(operation.request["bootstrap"])):
        operation.run_command(command.stamp, "head")


@contextmanager
def creating(operation: Any, metadata: Any) -> Iterator[None]:
    """While the block stamps, each stamp step first runs metadata.create_all() in its own transaction."""
    operation.on_step = lambda ctx, step, heads: metadata.create_all(ctx.connection)
    try:
        yield
    finally:
        operation.on_step = None


def load(spec: str) -> Any:
    """`module:attribute.path` imported from the service's folder (as env.py imports its models)."""
    module, _, path = spec.partition(":")
    try:
        found: Any = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and f"{module}.".startswith(f"{error.name}."):  # the module (or its package) is missing
            raise Failure("bootstrap_metadata", first_line(error), spec=spec) from None
        raise Failure("bootstrap_import", first_line(error), module=module) from None
    except Exception as error:  # the module is there and failed while importing: the spec is right
        raise Failure("bootstrap_import", first_line(error), module=module) from None
    try:
        for name in path.split("."):
            found = getattr(found, name)
    except Exception as error:
        raise Failure("bootstrap_metadata", first_line(error), spec=spec) from None
    if not callable(getattr(found, "create_all", None)):
        raise Failure("bootstrap_metadata", f"{type(found).__name__} has no create_all", spec=spec)
    return found


def verify(verification: Any, at_head: Any) -> None:
    """verify's check on a scratch database back at base: create_all, then stamp head, builds what every revision
    built at head (`at_head`, the catalog snapshot); its differences are reported like drift's."""
    from alembic import command

    from . import catalog
    from . import ownership as owned

    try:
        metadata = load(str(verification.operation.request.get("bootstrap")))
    except Failure as failure:
        verification.failed("bootstrap", f"the metadata does not load: {failure}")
        return
    with creating(verification.operation, metadata):
        problem = verification.step("stamp", command.stamp, "head")
    if problem is not None:
        verification.failed("bootstrap", f"create_all, then stamp head, fails: {problem.message}")
        return
    built = verification.own(verification.db.snapshot())
    changes = owned.differences(verification.own(at_head), built, catalog.LEFTOVERS)
    verification.judge(
        "bootstrap", changes, "create_all differs from every revision applied", "create_all builds what the revisions build"
    )
