"""The tasks that replace the manual test plan and the troubleshooting guides: verify, verify-all, doctor."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .helps import SERVICE, Definitions, FleetVerbs, Task
from .selection import HELP as SELECTION

if TYPE_CHECKING:
    from ..orchestrate import Selection
    from ..session import Session

REPORT = {
    "json": "print JSON instead of tables",
    "junit": "also write a JUnit XML report to this file (for CI)",
    "keep": "keep the scratch database and print its URL (password masked)",
}


def definitions(config_file: Path) -> Definitions:
    def verify(c: Any, service: str, json_: bool = False, junit: str = "", keep: bool = False, *, session: Session) -> None:
        """Run the test plan for a service on a scratch database: history, stairway, drift, no-trace and more."""
        from .. import verify as verification
        from . import render

        report = verification.verify_one(session, session.service(service), keep=keep)
        render.verify_report(report, json_=json_, junit=junit, many=False, verbose=session.verbose)
        render.verdict(report, json_=json_)

    def verify_all(
        c: Any, json_: bool = False, junit: str = "", keep: bool = False, *, pick: Selection, session: Session
    ) -> None:
        """Run verify for every service, in parallel, each in its own scratch database (for CI)."""
        from .. import verify as verification
        from . import render

        report = verification.verify_all(session, pick, keep=keep)
        render.verify_report(report, json_=json_, junit=junit, many=True, verbose=session.verbose)
        render.verdict(report, json_=json_)

    def doctor(c: Any, json_: bool = False, jobs: str = "", env: str = "", verbose: bool = False) -> None:
        """Diagnose the setup: URL, connection, drivers, env.py imports, revisions, version tables."""
        from .. import settings
        from ..doctor import diagnose as diagnosis
        from . import options, render

        job_count = options.jobs(jobs)
        name, source = settings.environment_choice(env)
        report = diagnosis.diagnose(config_file, jobs=job_count, environment=name, source=source)
        findings = report.findings
        if json_:
            render.out(render.as_json({"ok": report.failure is None, "findings": [vars(finding) for finding in findings]}))
        else:
            render.out(render.table(("level", "subject", "finding"), [(f.level, f.subject, f.message) for f in findings]))
        report.raise_for_failure("in its findings" if json_ else "above")
        render.progress(f"doctor: {report.counts}")

    def verify_on_fleet(given: dict[str, Any]) -> FleetVerbs:
        from .. import verify as verification

        return functools.partial(verification.verify_all, keep=bool(given.get("keep"))), None

    return [
        Task("verify", verify, {**SERVICE, **REPORT}, session="quiet"),
        Task(
            "verify-all",
            verify_all,
            dict(REPORT),
            selection="all",
            fleet="sample",
            on_fleet=verify_on_fleet,
            session="quiet",
            warm=True,
        ),
        Task("doctor", doctor, {"json": "print JSON instead of a table", "jobs": SELECTION["jobs"]}, warm=True),
    ]
