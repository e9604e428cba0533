"""The Invoke tasks that replace the manual test plan and the troubleshooting pages: verify, verify-all, doctor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.exceptions import Exit

from .cli import ALL_HELP, SERVICE_HELP, Selection, environment_choice, out, progress
from .lazy import lazy

if TYPE_CHECKING:
    from . import commands, doctor, orchestrate, reports, verify
else:  # loaded when a task runs, not when Invoke lists the tasks
    commands, doctor, orchestrate, reports, verify = lazy("commands", "doctor", "orchestrate", "reports", "verify")

if TYPE_CHECKING:
    from .cli import _Tasks

Definitions = list[tuple[str, Callable[..., None], dict[str, str]]]


def check_tasks(t: _Tasks) -> Definitions:
    def verify_(c: Any, service: str, json_: bool = False, junit: str = "", keep: bool = False, env: str = "") -> None:
        """Run the test plan for a service on a scratch database: history, stairway, drift, no-trace and more."""
        session = t.session(quiet=True, env=env)
        result = verify.verify(session, session.service(service), keep=keep)
        _report([result], json_, junit)
        failed = verify.failed_checks(result)
        if failed:
            raise Exit(f"{service}: verify failed ({', '.join(failed)}); see the details above", code=1)

    def verify_all(
        c: Any,
        json_: bool = False,
        junit: str = "",
        keep: bool = False,
        only: str = "",
        exclude: str = "",
        jobs: str = "",
        fail_fast: bool = False,
        env: str = "",
    ) -> None:
        """Run verify for every service, in parallel, each in its own scratch database (for CI)."""
        session = t.session(quiet=True, env=env)
        pick = Selection(only, exclude, jobs, fail_fast)
        names = pick.names(session.project)
        session.target()  # start (or check) the server once, before the services fan out
        check = verify.verify  # loaded here, in one thread: a lazy module must not load in several at once
        outcomes = orchestrate.run_all(
            session.project,
            names,
            lambda service: check(session, service, keep=keep),
            jobs=pick.job_count(),
            fail_fast=fail_fast,
            ordered=False,
            describe=_verdict,
        )
        results = [verify.result_of(outcome) for outcome in outcomes]
        _report(results, json_, junit, summary=[reports.verify_outcome(o, r) for o, r in zip(outcomes, results, strict=True)])
        failed = [result["service"] for result in results if not result["ok"]]
        if failed:
            raise Exit(f"verify failed for {', '.join(failed)}; see the tables above", code=1)

    def doctor_(c: Any, json_: bool = False, jobs: str = "", env: str = "") -> None:
        """Diagnose the setup: URL, connection, drivers, env.py imports, revisions, version tables."""
        name, source = environment_choice(env)
        findings = doctor.diagnose(t.config_file, jobs=Selection(jobs=jobs).job_count(), environment=name, source=source)
        errors = sum(1 for finding in findings if finding.level == doctor.ERROR)
        warnings = sum(1 for finding in findings if finding.level == doctor.WARNING)
        if json_:
            document = {"ok": not errors, "findings": [vars(finding) for finding in findings]}
            out(reports.as_json(document))
        else:
            out(reports.table(("level", "subject", "finding"), [(f.level, f.subject, f.message) for f in findings]))
        counts = f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
        if errors:
            raise Exit(f"doctor: {counts}; fix the errors above, then run 'inv db.doctor' again", code=1)
        progress(f"doctor: {counts}")

    selection = dict(ALL_HELP)
    report_help = {
        "json": "print JSON instead of tables",
        "junit": "also write a JUnit XML report to this file (for CI)",
        "keep": "keep the scratch database and print its URL (password masked)",
    }
    return [
        ("verify", verify_, {"service": SERVICE_HELP, **report_help}),
        ("verify-all", verify_all, {**report_help, **selection}),
        ("doctor", doctor_, {"json": "print JSON instead of a table", "jobs": ALL_HELP["jobs"]}),
    ]


def _report(results: list[dict[str, Any]], json_: bool, junit: str, summary: list[Any] | None = None) -> None:
    if junit:
        commands.write_text(Path(junit), verify.junit(results))
    if json_:
        out(reports.as_json(results[0] if summary is None else results))
        return
    for result in results:
        if result["checks"]:
            out(reports.verify_table(result))
        if "database" in result:
            out(f"{result['service']}: scratch database kept: {result['database']}")
    if summary is not None:
        out(reports.summary(summary))


def _verdict(data: Any) -> str:
    failed = verify.failed_checks(data)
    return f"failed: {', '.join(failed)}" if failed else "all checks passed"
