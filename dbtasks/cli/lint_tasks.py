"""The lock-risk lint: lint and lint-all (squawk on each revision's offline SQL)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import SERVICE, Definitions, Task

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session

REPORT = {
    "json": "print JSON instead of the findings",
    "junit": "also write a JUnit XML report to this file (for CI)",
}


def definitions(config_file: Path) -> Definitions:
    def lint(c: Any, service: str, from_: str = "", json_: bool = False, junit: str = "", *, session: Session) -> None:
        """Lint each revision's upgrade SQL with squawk for lock-taking DDL, offline (exit 1 on a finding)."""
        from ..lint import check as linting
        from . import lint_render, render

        report = linting.lint_one(session, session.service(service), from_ or None)
        lint_render.lint_report(report, json_=json_, junit=junit, many=False)
        render.verdict(report, json_=json_)

    def lint_all(c: Any, json_: bool = False, junit: str = "", *, pick: Selection, session: Session) -> None:
        """Run lint for every service (for CI); exit non-zero if any revision has a finding."""
        from ..lint import check as linting
        from . import lint_render, render

        report = linting.lint_all(session, pick)
        lint_render.lint_report(report, json_=json_, junit=junit, many=True)
        render.verdict(report, json_=json_)

    return [
        Task(
            "lint", lint, {**SERVICE, "from": "lint the revisions after this one (default: from base)", **REPORT}, session="quiet"
        ),
        Task("lint-all", lint_all, dict(REPORT), selection="all", session="quiet"),
    ]
