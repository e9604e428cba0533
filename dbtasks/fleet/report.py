"""What a fleet run did: one TargetOutcome per member, counts by state, the verdict, and the JSON document a later
run reads back (`--retry-failed REPORT`) to redo only the members that failed or did not start."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunFailed, UsageError
from ..orchestrate import Report

# The states of a member that a retry redoes.
UNFINISHED = ("failed", "not started")


@dataclass(frozen=True)
class TargetOutcome:
    """One member: state is ok, failed or not started (status: up to date, behind or failed), with a one-line detail."""

    target: str
    state: str
    detail: str = ""
    report: Report | None = None

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"target": self.target, "state": self.state, "detail": self.detail}
        if self.report is not None:
            found["services"] = self.report.entries or [
                {"service": outcome.service, "state": outcome.state, "detail": outcome.detail} for outcome in self.report.outcomes
            ]
        return found


@dataclass(frozen=True)
class FleetReport:
    """Every chosen member's outcome, in the fleet's order."""

    fleet: str
    shard: str
    outcomes: list[TargetOutcome]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(outcome.state for outcome in self.outcomes))

    @property
    def unfinished(self) -> list[TargetOutcome]:
        return [outcome for outcome in self.outcomes if outcome.state in UNFINISHED]

    @property
    def failure(self) -> str | None:
        return self.verdict("the outcomes")

    def verdict(self, shown: str) -> str | None:
        """The failure, pointing at `shown`, what shows the unfinished targets ("the summary above" on a command line)."""
        left = self.unfinished
        if not left:
            return None
        names = ", ".join(outcome.target for outcome in left[:10]) + (", ..." if len(left) > 10 else "")
        return (
            f"{self.fleet}: {len(left)} of {len(self.outcomes)} targets failed or did not start ({names}); see {shown}, "
            f"and rerun with --retry-failed REPORT (a --json report) to redo only those"
        )

    def raise_for_failure(self, shown: str = "the outcomes") -> None:
        if self.unfinished:
            raise RunFailed(str(self.verdict(shown)))

    def document(self, verb: str) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "verb": verb,
            "shard": self.shard,
            "counts": self.counts,
            "targets": [outcome.document() for outcome in self.outcomes],
        }


def judge_run(report: Report) -> tuple[str, str]:
    """A member's state after a *-all verb: ok (what was done), or failed with its first failure."""
    if report.ok:
        details = sorted({outcome.detail for outcome in report.outcomes if outcome.detail})
        return "ok", "; ".join(details) if len(details) <= 2 else f"{len(report.outcomes)} services ok"
    bad = next((outcome for outcome in report.outcomes if not outcome.ok), None)
    return "failed", f"{bad.service}: {bad.detail}" if bad is not None else str(report.failure)


def judge_status(report: Report) -> tuple[str, str]:
    """A member's state from its status rows: up to date, behind (what is not: pending, not initialized, ...), or
    failed (a status could not be read)."""
    rows = report.entries
    broken = [row for row in rows if str(row["state"]).startswith("error")]
    if broken or not report.ok:
        row = broken[0] if broken else rows[0]
        return "failed", f"{row['service']}: {row['state']}"
    behind = [row for row in rows if row["state"] != "up to date"]
    if not behind:
        return "up to date", f"{len(rows)} services at head"
    return "behind", ", ".join(f"{row['service']}: {row['state']}" for row in behind)


# A report of a few thousand members is a few megabytes; a larger file is not one of ours.
MAX_REPORT_BYTES = 64 * 1024 * 1024


def retry_names(path: str, fleet: str) -> frozenset[str]:
    """The members a --json report of `fleet` says failed or did not start."""
    advice = "give the file a --json run wrote"
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:  # a FIFO would hang, a huge file exhaust
            what = "not a regular file" if not stat.S_ISREG(info.st_mode) else f"{info.st_size} bytes, not a fleet report"
            raise UsageError(f"--retry-failed: {path}: {what}; {advice}")
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a JSON report"
        raise UsageError(f"--retry-failed: {path}: {reason}; {advice}") from None
    if not isinstance(document, dict) or not isinstance(document.get("targets"), list):
        raise UsageError(f"--retry-failed: {path} is not a fleet report; {advice}")
    if document.get("fleet") != fleet:
        raise UsageError(
            f"--retry-failed: {path} reports on {document.get('fleet')!r}, not {fleet!r}; give --targets {document.get('fleet')}"
        )
    unfinished = [entry for entry in document["targets"] if isinstance(entry, dict) and entry.get("state") in UNFINISHED]
    if any(not isinstance(entry.get("target"), str) for entry in unfinished):
        raise UsageError(f"--retry-failed: {path} has an unfinished entry without its target's name; {advice}")
    return frozenset(str(entry["target"]) for entry in unfinished)
