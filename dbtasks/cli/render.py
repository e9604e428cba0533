"""What the tasks print: lines on stdout and stderr, plain-text tables, JSON documents and JUnit XML."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..compat import zip_strict
from ..errors import RunFailed, printable
from ..orchestrate import Outcome, Report


def out(text: str) -> None:
    """A line of the result, on stdout."""
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `inv db.status | head`: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


_WRITING = threading.Lock()
_STDERR_GONE = threading.Event()


def progress(line: str) -> None:
    """One line to stderr, whole: workers of several services report from several threads.

    A stderr that went away (`2>&1 | head -1`, `2>&-`, a closed terminal) drops this line and every later one: a run
    in progress must finish, and release its locks, as it would have with someone reading.
    """
    with _WRITING:
        if _STDERR_GONE.is_set():
            return
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # broken pipe, closed file, or no stderr at all (None)
            _STDERR_GONE.set()
            with contextlib.suppress(OSError):  # later writes (Invoke's, the interpreter's at exit) go nowhere, quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


STATUS_COLUMNS = ("service", "database", "schema", "current", "head", "pending", "state")  # database: when several


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows under a header, columns padded to their widest cell."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip_strict(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip_strict(row, widths)).rstrip() for row in cells)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A table cell: values read from a database or a file cannot move the cursor or start a line of their own."""
    return "-" if value is None else printable(str(value))


DETAIL_WIDTH = 72


def shorten(text: str, width: int = DETAIL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


BELOW = "(in full below)"  # a failure too long for its cell: said once, whole, under the table


def _fitted(text: str, failed: bool) -> str:
    return BELOW if failed and len(text) > DETAIL_WIDTH else shorten(text)


def summary(outcomes: Sequence[Outcome]) -> str:
    """The closing table of a *-all task, each failure too long for its cell in full below it, then the counts."""
    body = table(
        ("service", "result", "detail"), [(o.service, o.state, _fitted(o.detail, o.state == "failed")) for o in outcomes]
    )
    failures = [f"{o.service}: {o.detail}" for o in outcomes if o.state == "failed" and len(o.detail) > DETAIL_WIDTH]
    counts = {state: sum(1 for o in outcomes if o.state == state) for state in ("ok", "failed", "skipped")}
    tail = f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
    return "\n".join([body, *failures, tail])


def finish(report: Report) -> None:
    """The closing summary of a *-all task, then its verdict (a failed run raises RunFailed)."""
    out(summary(report.outcomes))
    verdict(report)


def verdict(report: Report, *, json_: bool = False) -> None:
    """Raise the run's verdict (RunFailed), pointing at what this command printed of it; a JSON document is no table."""
    if report.failure is not None:
        raise RunFailed(report.failure if json_ else f"{report.failure}; see {report.shown} above")


def status_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The status table; a state too long for its column is repeated in full below."""
    columns = STATUS_COLUMNS if len({row.get("database") for row in rows}) > 1 else STATUS_COLUMNS[:1] + STATUS_COLUMNS[2:]
    body = table(columns, [[*(row[key] for key in columns[:-1]), _fitted(row["state"], True)] for row in rows])
    long_states = [f"{row['service']}: {row['state']}" for row in rows if len(row["state"]) > DETAIL_WIDTH]
    return "\n".join([body, *long_states])


VERIFY_MARKS = {True: "ok", False: "FAILED", None: "skipped"}


def verify_table(result: Mapping[str, Any], whole: bool = False) -> str:
    """One service's checks; a failure too long for its column in full below (`whole`: every detail whole)."""
    checks = list(result["checks"])
    rows = [(c["name"], VERIFY_MARKS[c["ok"]], c["detail"] if whole else _fitted(c["detail"], c["ok"] is False)) for c in checks]
    failures = [f"  {c['name']}: {c['detail']}" for c in checks if c["ok"] is False and len(c["detail"]) > DETAIL_WIDTH]
    return "\n".join([f"{result['service']}:", table(("check", "result", "detail"), rows), *([] if whole else failures), ""])


def verify_line(result: Mapping[str, Any]) -> str:
    """A passing service's verify in one line: how many checks passed, and which were skipped."""
    checks = list(result["checks"])
    skipped = [c["name"] for c in checks if c["ok"] is None]
    passed = len(checks) - len(skipped)
    return f"{result['service']}: verify ok, {passed} checks passed" + (f" ({', '.join(skipped)} skipped)" if skipped else "")


def verify_report(report: Report, *, json_: bool, junit: str, many: bool, verbose: bool = False) -> None:
    """verify's tables (or JSON), the kept scratch databases, verify-all's summary; --junit writes the XML too. A
    service whose checks all pass is one line (verify-all: its row of the summary), unless `verbose` (every detail
    whole)."""
    from pathlib import Path

    from ..verbs import write_text

    results = report.entries
    if junit:
        write_text(Path(junit), junit_xml(results))
    if json_:
        out(as_json(results if many else results[0]))
        return
    for result in results:
        if result["checks"] and (verbose or not result["ok"]):
            out(verify_table(result, whole=verbose))
        elif result["checks"] and not many:  # verify-all: its summary has the passing service's line
            out(verify_line(result))
        if "database" in result:
            out(f"{result['service']}: scratch database kept: {result['database']}")
    if many:
        out(summary(report.outcomes))


def as_json(document: Any) -> str:
    return json.dumps(document, indent=2)


# What XML 1.0 cannot hold at all (control characters but tab and newlines, lone surrogates, U+FFFE and U+FFFF): a
# message holding one made the whole report unreadable to CI. Compiled when a JUnit report is written: the class
# spans most of Unicode, and compiling it took 4.5 ms of every task's start.
_NOT_XML = "[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _xml_safe(text: str) -> str:
    return re.sub(_NOT_XML, lambda match: repr(match[0])[1:-1], text)


def junit_xml(results: Sequence[dict[str, Any]], task: str = "verify") -> str:
    """JUnit XML: a test suite per service, a test case per check (failures and skips marked)."""
    from xml.etree import ElementTree

    results = [_xml_safe_values(result) for result in results]

    suites = ElementTree.Element("testsuites", name=f"dbtasks {task}")
    for result in results:
        checks = list(result.get("checks") or [])
        suite = ElementTree.SubElement(suites, "testsuite", name=result["service"])
        if "error" in result:
            case = ElementTree.SubElement(suite, "testcase", classname=f"{task}.{result['service']}", name=task)
            ElementTree.SubElement(case, "error", message=result["error"]).text = result["error"]
        for check in checks:
            case = ElementTree.SubElement(suite, "testcase", classname=f"{task}.{result['service']}", name=check["name"])
            if check["ok"] is False:
                ElementTree.SubElement(case, "failure", message=check["detail"]).text = check["detail"]
            elif check["ok"] is None:
                ElementTree.SubElement(case, "skipped", message=check["detail"])
        suite.set("tests", str(max(1, len(checks)) if "error" in result else len(checks)))
        suite.set("failures", str(sum(1 for check in checks if check["ok"] is False)))
        suite.set("errors", "1" if "error" in result else "0")
        suite.set("skipped", str(sum(1 for check in checks if check["ok"] is None)))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _xml_safe_values(value: Any) -> Any:
    if isinstance(value, str):
        return _xml_safe(value)
    if isinstance(value, list):
        return [_xml_safe_values(item) for item in value]
    if isinstance(value, dict):
        return {key: _xml_safe_values(item) for key, item in value.items()}
    return value
