"""What a fleet run prints: progress on stderr (a live line on a terminal, else a line per target), then the
summary (counts by state, the targets that did not end well with their reason) or the JSON report on stdout."""

from __future__ import annotations

import os
import sys
import time

from ..fleet.fanout import Plan
from ..fleet.report import FleetReport, TargetOutcome
from . import render

# The states a summary lists target by target; the others are only counted.
_LISTED = ("failed", "not started", "behind")


def live(no_progress: bool) -> bool:
    """A live line only on a terminal, without NO_COLOR (https://no-color.org) or --no-progress."""
    if no_progress or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Targets done out of all, failures, rate and ETA: one line rewritten in place, or a plain line per target."""

    def __init__(self, plan: Plan, *, live: bool) -> None:
        self.plan = plan
        self.live = live
        self.total = 0
        self.failed = 0
        self.started = time.monotonic()
        self.drawn = False

    def start(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        shard = f", shard {self.plan.shard}" if self.plan.shard.count > 1 else ""
        render.progress(f"{self.plan.fleet}: {total} targets{shard}, {min(total, self.plan.at_once()) or 1} at a time")

    def done(self, outcome: TargetOutcome, done: int, total: int) -> None:
        self.failed += outcome.state == "failed"
        if not self.live:
            detail = f": {outcome.detail}" if outcome.state == "failed" else ""
            render.progress(f"[{done}/{total}] {outcome.target}: {outcome.state}{detail}")
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0.0
        line = f"{self.plan.fleet}: {done}/{total} targets, {self.failed} failed, {rate:.1f}/s, ETA {_duration(eta)}"
        self._draw(line)

    def _draw(self, line: str) -> None:
        try:
            sys.stderr.write("\r\x1b[2K" + line)
            sys.stderr.flush()
            self.drawn = True
        except (OSError, ValueError):
            self.live = False

    def close(self) -> None:
        if self.drawn:
            render.progress("")


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def summary(report: FleetReport) -> str:
    """check-all's differences, the targets that did not end well, one line each, then the counts by state."""
    listed = [outcome for outcome in report.outcomes if outcome.state in _LISTED]
    lines = [  # check-all's differences, as check-all prints them, by member
        f"{outcome.target}/{entry['service']}: - {difference}"
        for outcome in listed
        if outcome.report is not None
        for entry in outcome.report.entries
        for difference in entry.get("differences") or []
    ]
    if listed:
        rows = [(outcome.target, outcome.state, render.shorten(outcome.detail, 100)) for outcome in listed]
        lines.append(render.table(("target", "state", "detail"), rows))
    counts = ", ".join(f"{count} {state}" for state, count in sorted(report.counts.items(), key=lambda item: -item[1]))
    shard = f" (shard {report.shard})" if report.shard != "1/1" else ""
    lines.append(f"{report.fleet}{shard}: {len(report.outcomes)} targets: {counts or 'none'}")
    return "\n".join(lines)


def finish(report: FleetReport, verb: str, *, json_: bool) -> None:
    """The summary (or the JSON report), then the verdict: a failed or unstarted target fails the run."""
    if json_:
        render.out(render.as_json(report.document(verb)))
    else:
        one = report.outcomes[0].report if len(report.outcomes) == 1 and verb == "status" else None
        if one is not None:  # --target ONE: its services, as status shows them
            render.out(render.status_table(one.entries))
        render.out(summary(report))
    report.raise_for_failure("the outcomes in the JSON report" if json_ else "the summary above")


def write_junit(report: FleetReport, path: str) -> None:
    """verify-all's JUnit XML over the fleet: a test suite per member and service (`tenant_a/users`)."""
    from pathlib import Path

    from ..verbs import write_text

    results = [
        {**entry, "service": f"{outcome.target}/{entry['service']}"}
        for outcome in report.outcomes
        if outcome.report is not None
        for entry in outcome.report.entries
    ]
    write_text(Path(path), render.junit_xml(results))
