"""What lint and lint-all print: each finding where it is (file:line of the revision), then the verdict; JSON and JUnit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..orchestrate import Report
from . import render

STATEMENT_LINES = 3  # of a long statement, its first lines are shown (--json has it whole)


def finding(service: str, item: Mapping[str, Any]) -> str:
    """`file:line: service revision: rule: message (help)`, then the statement, indented."""
    from ..lint.check import where

    advice = f" ({item['help']})" if item.get("help") else ""
    lines = [f"{where(item)}: {service} {item['revision']}: {item['rule']}: {item['message']}{advice}"]
    statement = str(item.get("statement") or "").splitlines()
    lines += [f"    {line}" for line in statement[:STATEMENT_LINES]]
    if len(statement) > STATEMENT_LINES:
        lines.append("    ...")
    return "\n".join(lines)


def as_checks(result: Mapping[str, Any]) -> dict[str, Any]:
    """A lint result in verify's shape for JUnit: a test case per revision linted, failed by its findings."""
    from ..lint.check import where

    by_revision: dict[str, list[str]] = {}
    for item in result.get("findings") or []:
        by_revision.setdefault(item["revision"], []).append(f"{where(item)}: {item['rule']}: {item['message']}")
    clean = max(0, int(result.get("revisions") or 0) - len(by_revision))
    checks = [{"name": revision, "ok": False, "detail": "\n".join(lines)} for revision, lines in by_revision.items()]
    if clean:
        checks.append({"name": f"{clean} revision{'s' if clean != 1 else ''} without findings", "ok": True, "detail": ""})
    document: dict[str, Any] = {"service": result["service"], "checks": checks}
    if result.get("error"):
        document["error"] = result["error"]
    return document


def lint_report(report: Report, *, json_: bool, junit: str, many: bool) -> None:
    """The findings (or JSON), lint-all's summary; --junit writes the XML too. The verdict is the caller's."""
    from ..verbs import write_text

    results: Sequence[dict[str, Any]] = report.entries
    if junit:
        write_text(Path(junit), render.junit_xml([as_checks(result) for result in results], task="lint"))
    if json_:
        render.out(render.as_json({"services": list(results)} if many else results[0]))
        return
    for result in results:
        for item in result.get("findings") or []:
            render.out(finding(result["service"], item))
    if many:
        render.out(render.summary(report.outcomes))
    elif report.ok:
        render.out(f"{results[0]['service']}: {report.outcomes[0].detail}")
