"""The plan task: what upgrade-all would do now, for a terminal, as JSON, or as Markdown for a pull request."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import JSON, Definitions, Task

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session

MARKDOWN = "print the plan as Markdown (for a pull-request comment or a CI step summary)"
TARGETS = "plan every member of this fleet (migrations.yaml's targets:): one plan per group of members at the same revisions"
FAIL_ON = "exit 1 when the plan has any of: lint, destructive, edited (comma-separated)"


def definitions(config_file: Path) -> Definitions:
    def plan(
        c: Any,
        json_: bool = False,
        markdown: bool = False,
        fail_on: str = "",
        targets: str = "",
        *,
        pick: Selection,
        session: Session,
    ) -> None:
        """Show what upgrade-all would do now, without doing it: order, pending revisions, SQL, lint, risks."""
        from .. import preview
        from ..errors import RunFailed, UsageError
        from . import plan_render, render

        kinds = tuple(kind.strip() for kind in fail_on.split(",") if kind.strip())
        unknown = [kind for kind in kinds if kind not in preview.FAIL_ON]
        if unknown:
            raise UsageError(f"--fail-on {unknown[0]!r}: expected a comma-separated list of {', '.join(preview.FAIL_ON)}")
        if json_ and markdown:
            raise UsageError("--json and --markdown: choose one")
        found = preview.fleet_plan(session, targets, pick) if targets else preview.plan(session, pick)
        if json_:
            render.out(render.as_json(found))
        else:
            render.out(plan_render.markdown(found) if markdown else plan_render.text(found))
        said = []
        failing = preview.failures(found, kinds)
        if failing:
            said.append(f"the plan has what --fail-on {','.join(kinds)} refuses: {'; '.join(failing)}")
        unplanned = [item["target"] for item in found.get("failed") or []]
        if unplanned:  # a plan that leaves members out is no all-clear
            where = "its failed list" if json_ else "'not planned' above"
            said.append(
                f"{found['fleet']}: {preview.many(len(unplanned), 'member')} could not be planned "
                f"({', '.join(unplanned[:10])}{', ...' if len(unplanned) > 10 else ''}); see {where}"
            )
        if said:
            raise RunFailed("; and ".join(said))

    helps = {**JSON, "markdown": MARKDOWN, "fail_on": FAIL_ON, "targets": TARGETS}
    return [Task("plan", plan, helps, selection="no-fail-fast", session="quiet")]
