"""Each revision's offline upgrade SQL, rendered in one run of env.py and cut at each migration's end (for lint).

Alembic renders `upgrade base:heads --sql` as one text: `-- Running upgrade a -> b` before each migration's
statements, its version-table update after them. on_version_apply is called once per migration, right after that
update, so the buffer's length at each call is where one migration ends; what comes before its `-- Running` line
(BEGIN, env.py's CREATE SCHEMA, the version table's CREATE TABLE, a per-migration COMMIT/BEGIN) is not the
migration's own. Branches and merges come in Alembic's order along the graph, one step per revision.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, List, Tuple

from . import engine_files
from .operation import Operation

RUNNING = "-- Running "


def revision_sql(operation: Operation) -> dict[str, Any]:
    """{"revisions": [{"revision", "down_revisions", "path", "message", "sql"}]}: upgrade from `from` (default base) to
    the heads; the message is the revision's (`alembic revision -m`), the first line of its docstring."""
    from alembic import command

    script = operation.script()
    start = operation.args.get("from")
    operation.resolve(script, start, relative_ok=False)
    buffer = operation.sql_buffer
    operation.config.output_buffer = buffer
    with noting(buffer) as ends, engine_files.captured(operation.request.get("engines")):
        operation.run_command(command.upgrade, f"{start}:heads" if start else "heads", sql=True)
    return {"revisions": cut(ends)}


Ends = List[Tuple[Any, Any, int]]  # (the step's revision, the buffer its SQL went to, where it ends there)


@contextlib.contextmanager
def noting(buffer: Any) -> Iterator[Ends]:
    """While the block renders an upgrade --sql into `buffer`, note where each migration's SQL ends (verify's offline
    check renders the same upgrade and hands its cut to lint, which then starts no worker of its own)."""
    from alembic.runtime.environment import EnvironmentContext

    ends: Ends = []
    patched = EnvironmentContext.configure

    def configure(self: Any, *args: Any, **kw: Any) -> None:
        user_callback = kw.get("on_version_apply")
        out = kw.get("output_buffer") or buffer  # the multidb template hands a buffer per engine

        def on_version_apply(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            ends.append((step.up_revision, out, out.tell()))
            if user_callback is not None:
                user_callback(ctx=ctx, step=step, heads=heads, run_args=run_args)

        kw["on_version_apply"] = on_version_apply
        patched(self, *args, **kw)

    EnvironmentContext.configure = configure  # type: ignore[method-assign]  # this process runs this one operation
    try:
        yield ends
    finally:
        EnvironmentContext.configure = patched  # type: ignore[method-assign]


def cut(ends: Ends) -> list[dict[str, Any]]:
    """Each revision's own SQL, from where each migration's SQL ended."""
    found: dict[str, dict[str, Any]] = {}
    begins: dict[int, int] = {}  # where the next segment starts, per buffer
    for revision, out, end in ends:
        text = out.value() if isinstance(out, engine_files.Kept) else out.getvalue()
        segment = text[begins.get(id(out), 0) : end]
        begins[id(out)] = end
        marker = segment.find(RUNNING)
        entry = found.setdefault(
            revision.revision,
            {
                "revision": revision.revision,
                "down_revisions": list(revision._normalized_down_revisions),
                "path": revision.path,
                "message": str(revision.doc or "").strip().splitlines()[0] if (revision.doc or "").strip() else "",
                "sql": "",
            },
        )
        entry["sql"] += segment[marker:] if marker >= 0 else segment  # a multidb revision: each engine's in turn
    return list(found.values())
