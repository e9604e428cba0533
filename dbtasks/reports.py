"""Plain-text tables and JSON documents for status, check and the *-all summaries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .orchestrate import Outcome

STATUS_COLUMNS = ("service", "schema", "current", "head", "pending", "state")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows under a header, columns padded to their widest cell."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


DETAIL_WIDTH = 72


def shorten(text: str, width: int = DETAIL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def summary(outcomes: Sequence[Outcome]) -> str:
    """The closing table of a *-all task, each failure in full below it, then the counts."""
    body = table(("service", "result", "detail"), [(o.service, o.state, shorten(o.detail)) for o in outcomes])
    failures = [f"{o.service}: {o.detail}" for o in outcomes if o.state == "failed" and len(o.detail) > DETAIL_WIDTH]
    counts = {state: sum(1 for o in outcomes if o.state == state) for state in ("ok", "failed", "skipped")}
    tail = f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
    return "\n".join([body, *failures, tail])


def status_rows(outcomes: Sequence[Outcome], schemas: Mapping[str, str]) -> list[dict[str, Any]]:
    """One status entry per service; a service whose status could not be read has state 'error: …'."""
    rows = []
    for outcome in outcomes:
        if outcome.ok:
            rows.append({key: outcome.data.get(key) for key in STATUS_COLUMNS})
        else:
            rows.append(
                {
                    "service": outcome.service,
                    "schema": schemas[outcome.service],
                    "current": None,
                    "head": None,
                    "pending": None,
                    "state": f"error: {outcome.detail}" if outcome.state == "failed" else outcome.detail,
                }
            )
    return rows


def status_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The status table; a state too long for its column is repeated in full below."""
    body = table(STATUS_COLUMNS, [[*(row[key] for key in STATUS_COLUMNS[:-1]), shorten(row["state"])] for row in rows])
    long_states = [f"{row['service']}: {row['state']}" for row in rows if len(row["state"]) > DETAIL_WIDTH]
    return "\n".join([body, *long_states])


def check_entries(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.ok:
            diffs = list(outcome.data.get("diffs") or [])
            entries.append({"service": outcome.service, "ok": not diffs, "differences": diffs})
        else:
            entries.append({"service": outcome.service, "ok": False, "error": outcome.detail, "state": outcome.state})
    return entries


VERIFY_MARKS = {True: "ok", False: "FAILED", None: "skipped"}


def verify_table(result: Mapping[str, Any]) -> str:
    """One service's checks; a failure too long for its column is repeated in full below."""
    checks = list(result["checks"])
    body = table(("check", "result", "detail"), [(c["name"], VERIFY_MARKS[c["ok"]], shorten(c["detail"])) for c in checks])
    failures = [f"  {c['name']}: {c['detail']}" for c in checks if c["ok"] is False and len(c["detail"]) > DETAIL_WIDTH]
    return "\n".join([f"{result['service']}:", body, *failures, ""])


def verify_outcome(outcome: Outcome, result: Mapping[str, Any]) -> Outcome:
    """The summary row of verify-all: a service that ran but failed a check is failed too."""
    if outcome.ok and not result["ok"]:
        return Outcome(outcome.service, "failed", outcome.detail)
    return outcome


def as_json(document: Any) -> str:
    return json.dumps(document, indent=2)
