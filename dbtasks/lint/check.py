"""`lint`: each revision's offline upgrade SQL through squawk, each finding mapped back to its revision file.

One worker per service renders every revision's SQL (worker/per_revision.py); each goes to a file of its own in a
temporary folder, wrapped in BEGIN/COMMIT as dbtasks runs it (one transaction per migration); squawk runs once per
service over those files with the service's rules (migrations.yaml's lint:); a revision file silences a rule with
`# lint: ignore[RULE] -- reason`.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..compat import zip_strict
from ..config.project import Service
from ..errors import DbtasksError, ServiceError
from ..orchestrate import Outcome, Report, Selection
from ..session import Session
from ..verbs_all import over_all
from . import source as lint_source
from . import squawk
from .rules import SILENCE_RULE

SILENCE_HINT = "fix the migration, or silence a finding in its revision file with '# lint: ignore[RULE] -- why it is safe'"


def lint(
    session: Session, service: Service, start: str | None = None, rendered: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """{"service", "ok", "revisions": how many were linted, "findings": [{"revision", "file", "line", "rule", "message",
    "help", "statement"}]}: upgrade from `start` (default base) to the heads, without a database (`rendered`: that
    SQL, rendered already by verify's worker)."""
    squawk.binary()  # missing: said before any worker starts
    rendered = render(session, service, start) if rendered is None else rendered
    findings = findings_of(session, service, rendered)
    return {"service": service.name, "ok": not findings, "revisions": len(rendered), "findings": findings}


def findings_of(session: Session, service: Service, rendered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """squawk's findings in the revisions `render` gave, each at its revision file's line, less the silenced ones."""
    findings: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dbtasks-lint-") as folder:
        files: dict[str, tuple[dict[str, Any], str]] = {}
        for index, revision in enumerate(rendered):
            name = f"{index:04d}_{re.sub(r'[^A-Za-z0-9_-]', '_', revision['revision'])}.sql"
            text = f"BEGIN;\n\n{revision['sql'].rstrip()}\n\nCOMMIT;\n"
            Path(folder, name).write_text(text, encoding="utf-8")
            files[name] = (revision, text)
        reported = squawk.run([Path(name) for name in files], service.lint, Path(folder))
    by_revision: dict[str, list[dict[str, Any]]] = {revision["revision"]: [] for revision in rendered}
    for item in reported:
        name = Path(str(item.get("file", ""))).name
        if name in files:
            source, text = files[name]
            by_revision[source["revision"]].append(finding(session, source, text, item))
    for revision in rendered:
        findings.extend(silenced(session, revision, by_revision[revision["revision"]]))
    return findings


def render(session: Session, service: Service, start: str | None) -> list[dict[str, Any]]:
    """Each revision's upgrade SQL, offline; a migration that fails without a database is named as such."""
    bounds: dict[str, Any] = {"from": start or None}
    try:
        return list(session.run(service, "revision_sql", offline=True, **bounds)["revisions"])
    except ServiceError as error:
        if error.kind != "migration":
            raise
        failed = error.reason.split("; rolled back", 1)[0]  # nothing ran: there is nothing to roll back
        raise ServiceError(
            service.name,
            f"{failed} while rendering its SQL offline (lint reads each revision's SQL without a database); "
            "make it check context.is_offline_mode() before it reads the database",
            kind=error.kind,
        ) from None


def finding(session: Session, revision: Mapping[str, Any], text: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """One squawk finding as lint reports it: the revision file and the line of the op that renders the statement."""
    statement = statement_at(text, int(item.get("line") or 0))
    path = Path(revision["path"])
    return {
        "revision": revision["revision"],
        "file": relative(session, path),
        "line": lint_source.op_line(path, statement),
        "rule": str(item.get("rule_name") or "?"),
        "message": str(item.get("message") or ""),
        "help": str(item.get("help") or ""),
        "statement": statement,
    }


def silenced(session: Session, revision: Mapping[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`found` less what the revision file's silence comments silence, plus a finding for each silence comment that is
    malformed, has no reason or silences nothing."""
    path = Path(revision["path"])
    comments = lint_source.silences(path)
    valid = [comment for comment in comments if comment.problem is None]
    kept: list[dict[str, Any]] = []
    for item in found:
        covering = [comment for comment in valid if item["rule"] in comment.rules]
        for comment in covering:
            comment.used.add(item["rule"])
        if not covering:
            kept.append(item)
    for comment in comments:
        unused = [rule for rule in comment.rules if rule not in comment.used]
        problem = comment.problem or (
            f"the silence of {', '.join(unused)} silences nothing in this revision; remove it" if unused else None
        )
        if problem is not None:
            kept.append(
                {
                    "revision": revision["revision"],
                    "file": relative(session, path),
                    "line": comment.line,
                    "rule": SILENCE_RULE,
                    "message": problem,
                    "help": "",
                    "statement": "",
                }
            )
    return sorted(kept, key=lambda item: item["line"] or 0)


def statement_at(text: str, line: int) -> str:
    """The whole statement around 0-based `line` of a rendered SQL file (Alembic ends each one with ';')."""
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    start = line
    while start > 0 and lines[start - 1].strip() and not lines[start - 1].rstrip().endswith(";"):
        start -= 1
    end = line
    while end < len(lines) - 1 and not lines[end].rstrip().endswith(";"):
        end += 1
    return "\n".join(part.rstrip() for part in lines[start : end + 1]).strip()


def relative(session: Session, path: Path) -> str:
    """The revision file's path relative to the folder of migrations.yaml (absolute when it is outside it)."""
    try:
        return path.resolve().relative_to(session.project.root).as_posix()
    except ValueError:
        return str(path)


def where(item: Mapping[str, Any]) -> str:
    return f"{item['file']}:{item['line']}" if item.get("line") else str(item["file"])


def verdict(result: Mapping[str, Any]) -> str:
    """One service's result in a few words: its findings and revisions counted."""
    count, revisions = len(result["findings"]), result["revisions"]
    linted = f"{revisions} revision{'s' if revisions != 1 else ''}"
    if not count:
        return f"no findings in {linted}"
    return f"{count} finding{'s' if count != 1 else ''} in {linted}"


def lint_one(session: Session, service: Service, start: str | None = None) -> Report:
    """lint for one service, as a Report whose one entry is the result."""
    result = lint(session, service, start)
    failure = None if result["ok"] else f"{service.name}: {verdict(result)}; {SILENCE_HINT}"
    outcome = Outcome(service.name, "ok" if result["ok"] else "failed", verdict(result), result)
    return Report([outcome], failure, [result], "the findings")


def lint_all(session: Session, pick: Selection, start: str | None = None) -> Report:
    """lint for every selected service (offline, in parallel); the entries are the results, or {"service", "ok": false,
    "error"} for a service whose SQL could not be rendered."""
    squawk.binary()
    outcomes = over_all(session, functools.partial(lint, start=start), pick, ordered=False, offline=True, describe=verdict)
    results = [dict(o.data) if o.ok else {"service": o.service, "ok": False, "error": o.detail, "findings": []} for o in outcomes]
    judged = [Outcome(o.service, "failed", o.detail) if o.ok and not r["ok"] else o for o, r in zip_strict(outcomes, results)]
    failed = [str(result["service"]) for result in results if not result["ok"]]
    failure = f"lint failed for {', '.join(failed)}" if failed else None
    return Report(judged, failure, results, "the findings and the table")


def check(session: Session, service: Service, rendered: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """lint as one check of verify: {"name": "lint", "ok", "detail"} (skipped when the SQL cannot be rendered);
    `rendered`: each revision's SQL as verify's worker rendered it, else a worker renders it."""
    try:
        result = lint(session, service, rendered=rendered)
    except ServiceError as error:
        return {"name": "lint", "ok": None, "detail": f"cannot render the revisions' SQL offline ({error.reason})"}
    except DbtasksError as error:
        return {"name": "lint", "ok": False, "detail": str(error)}
    if result["ok"]:
        return {"name": "lint", "ok": True, "detail": verdict(result)}
    first = result["findings"][0]
    return {
        "name": "lint",
        "ok": False,
        "detail": f"{verdict(result)}; first: {where(first)}: {first['rule']}: {first['message']}",
    }


def add_to_check(session: Session, pick: Selection, report: Report) -> Report:
    """check-all --lint: each service's check entry also carries its lint findings, and fails with any."""
    linted = {entry["service"]: entry for entry in lint_all(session, pick).entries}
    entries: list[dict[str, Any]] = []
    outcomes: list[Outcome] = []
    for entry, outcome in zip_strict(report.entries, report.outcomes):
        result = linted.get(entry["service"], {})
        found = list(result.get("findings") or [])
        lint_error = result.get("error")
        entry = {**entry, "lint": found, **({"lint_error": lint_error} if lint_error else {})}
        if found or lint_error:
            entry["ok"] = False
            detail = f"{outcome.detail}; lint: {lint_error or verdict(result)}"
            outcome = Outcome(outcome.service, "failed", detail, outcome.data)
        entries.append(entry)
        outcomes.append(outcome)
    failed = [str(entry["service"]) for entry in entries if not entry["ok"]]
    return Report(outcomes, f"check failed for {', '.join(failed)}" if failed else None, entries)
