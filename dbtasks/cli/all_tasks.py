"""The tasks for every selected service: options -> Session -> one verb of dbtasks.verbs_all -> the
summary table (or JSON), then the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .helps import JSON, LOCK, SELECTION, YES, Definitions


def definitions(config_file: Path) -> Definitions:
    def status(c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: str = "", env: str = "") -> None:
        """Show every service's current revision, head, pending count and state."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs)
        report = verbs_all.status_all(options.session(config_file, quiet=True, env=env), pick)
        render.out(render.as_json({"services": report.entries}) if json_ else render.status_table(report.entries))
        report.raise_for_failure()

    def upgrade_all(
        c: Any, only: str = "", exclude: str = "", jobs: str = "", fail_fast: bool = False, lock_wait: str = "", env: str = ""
    ) -> None:
        """Upgrade every service to head, dependencies first."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs, fail_fast)
        report = verbs_all.upgrade_all(options.session(config_file, lock_wait=options.seconds(lock_wait), env=env), pick)
        render.finish(report)

    def downgrade_all(
        c: Any,
        to: str = "-1",
        yes: bool = False,
        only: str = "",
        exclude: str = "",
        jobs: str = "",
        fail_fast: bool = False,
        lock_wait: str = "",
        env: str = "",
    ) -> None:
        """Downgrade every service (--to base for all), dependents first (needs --yes)."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs, fail_fast)
        session = options.session(config_file, lock_wait=options.seconds(lock_wait), env=env)
        report = verbs_all.downgrade_all(session, pick, to, yes)
        render.finish(report)

    def check_all(
        c: Any, json_: bool = False, only: str = "", exclude: str = "", jobs: str = "", fail_fast: bool = False, env: str = ""
    ) -> None:
        """Run check for every service; exit non-zero if any fails (for CI)."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs, fail_fast)
        report = verbs_all.check_all(options.session(config_file, quiet=json_, env=env), pick)
        if json_:
            render.out(render.as_json({"services": report.entries}))
            report.raise_for_failure()
            return
        for entry in report.entries:
            for diff in entry.get("differences") or []:
                render.out(f"{entry['service']}: - {diff}")
        render.finish(report)

    def sql_all(
        c: Any, output_dir: str = "", only: str = "", exclude: str = "", jobs: str = "", fail_fast: bool = False, env: str = ""
    ) -> None:
        """Write each service's upgrade SQL (base to head) to --output-dir/<service>.sql, offline."""
        from .. import verbs_all
        from . import options, render

        folder = options.output_folder(output_dir)
        pick = options.selection(only, exclude, jobs, fail_fast)
        report = verbs_all.sql_all(options.session(config_file, quiet=True, env=env), pick, folder)
        render.finish(report)

    def reset_all(
        c: Any,
        yes: bool = False,
        only: str = "",
        exclude: str = "",
        jobs: str = "",
        fail_fast: bool = False,
        lock_wait: str = "",
        env: str = "",
    ) -> None:
        """Downgrade every service to base (dependents first), then upgrade all to head (needs --yes)."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs, fail_fast)
        report = verbs_all.reset_all(options.session(config_file, lock_wait=options.seconds(lock_wait), env=env), pick, yes)
        render.finish(report)

    def stamp_all(
        c: Any,
        revision: str,
        yes: bool = False,
        only: str = "",
        exclude: str = "",
        jobs: str = "",
        fail_fast: bool = False,
        lock_wait: str = "",
        env: str = "",
    ) -> None:
        """Record REVISION (head or base) for every service without running migrations (needs --yes)."""
        from .. import verbs_all
        from . import options, render

        pick = options.selection(only, exclude, jobs, fail_fast)
        session = options.session(config_file, lock_wait=options.seconds(lock_wait), env=env)
        report = verbs_all.stamp_all(session, pick, revision, yes)
        render.finish(report)

    without_fail_fast = {key: value for key, value in SELECTION.items() if key != "fail_fast"}
    return [
        ("status", status, {**JSON, **without_fail_fast}),
        ("upgrade-all", upgrade_all, {**SELECTION, **LOCK}),
        ("downgrade-all", downgrade_all, {"to": "target revision for every service (default: -1)", **YES, **SELECTION, **LOCK}),
        ("check-all", check_all, {**JSON, **SELECTION}),
        ("sql-all", sql_all, {"output_dir": "folder for the <service>.sql files (required)", **SELECTION}),
        ("reset-all", reset_all, {**YES, **SELECTION, **LOCK}),
        ("stamp-all", stamp_all, {"revision": "revision to record for every service (head or base)", **YES, **SELECTION, **LOCK}),
    ]
