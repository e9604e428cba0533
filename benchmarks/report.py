"""What a benchmark run prints and writes: the machine, the results, the issue's targets with pass/fail."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dbtasks.compat import zip_strict

from .runner import Result
from .scenarios import MEMORY_TARGETS, SECONDS_TARGETS, TARGETS, TARGETS_BY_ISSUE
from .synthetic import REPO

# verify-scaling passes when the cost of one more revision at the top of the range is at most this
# multiple of its cost at the bottom (linear: 1.0; quadratic would grow with the revision count).
FLAT_TOLERANCE = 1.5
# Issue 14: seconds one more revision may add to `inv db.verify`, at the bottom and at the top of the range.
MARGINAL_LIMIT = 0.12
TARGET_TEXT = {
    "noop-upgrade": "no-op `upgrade-all` (everything at head)",
    "fresh-upgrade": "fresh `upgrade-all` (empty database)",
    "check": "`check-all` at head",
    "list": "`inv --list` vs `alembic --help`",
    "status-large": "`status`, large project, vs a loop of `alembic current`",
    "noop-direct": "no-op `dbtasks upgrade-all` (everything at head)",
    "status-direct": "`dbtasks status` at head vs a loop of `alembic current`",
    "current-one": "`inv db.current` of one service vs `alembic current` in its folder",
    "noop-large": "no-op `dbtasks upgrade-all`, large project",
    "verify": "`inv db.verify-all` of the project",
    "doctor": "`inv db.doctor` of the project",
}


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    passed: bool | None  # None: not measured in this run
    issue: int = 5  # the issue that set the target


def machine(server_version: str, server_kind: str) -> dict[str, str]:
    """CPU, memory, OS, Python, PostgreSQL and the dbtasks commit, as the report shows them."""
    return {
        "CPU": f"{_cpu_model()} ({os.cpu_count()} logical CPUs)",
        "RAM": f"{_memory_gib():.1f} GiB",
        "OS": f"{_os_name()} ({platform.platform()})",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "PostgreSQL": f"{server_version} ({server_kind})",
        "Libraries": ", ".join(
            f"{name} {_version(name)}" for name in ("alembic", "SQLAlchemy", "invoke", "psycopg2-binary", "asyncpg")
        ),
        "dbtasks": _commit(),
        "Load average at start": load_average(),
    }


def load_average() -> str:
    """1, 5 and 15 minutes: on a shared machine, the context every number needs."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def verdicts(results: Sequence[Result]) -> list[Verdict]:
    """Every target of issues 5, 14 and 25, in that order, with what this run measured."""
    by_name = {result.scenario: result for result in results if result.scenario != "verify-scaling"}
    scaling = [r for r in results if r.scenario == "verify-scaling"]
    found = []
    for issue, targets in TARGETS_BY_ISSUE.items():
        for name, limit in targets.items():
            text = f"{TARGET_TEXT[name]} ≤ {limit}x baseline"
            result = by_name.get(name)
            if result is None:
                found.append(Verdict(text, "not run", None, issue))
            else:
                found.append(Verdict(text, f"{result.ratio:.3f} ({result.size})", result.ratio <= limit, issue))
        if issue == 5:
            found.append(_flatness(scaling))
        if issue == 14:
            found += _marginal_costs(scaling)
    return found + _seconds(by_name) + _floor(by_name) + _memory(by_name)


def _seconds(by_name: dict[str, Result]) -> list[Verdict]:
    """Issue 25's absolute limits: our side's median, the baseline's beside it."""
    return [
        _bounded(by_name, name, f"{TARGET_TEXT[name]} ≤ {limit} s", limit, _our_seconds)
        for name, limit in SECONDS_TARGETS.items()
    ]


def _memory(by_name: dict[str, Result]) -> list[Verdict]:
    """Issue 25: the process tree's peak memory over the baseline's, for a fresh upgrade-all of 200 services."""
    text = "peak memory of the process tree, fresh `upgrade-all` of 200 services ≤ {}x the loop's"
    return [_bounded(by_name, name, text.format(limit), limit, _memory_ratio) for name, limit in MEMORY_TARGETS.items()]


def _our_seconds(result: Result) -> tuple[float, str]:
    return result.ours.median, f"{result.ours.median:.2f} s (baseline {result.baseline.median:.2f} s, {result.size})"


def _memory_ratio(result: Result) -> tuple[float, str]:
    """Summed RSS, as the issue asks; beside it the same over proportional set sizes (forked pages counted once)."""
    ours, baseline = result.ours.tree_mib, result.baseline.tree_mib
    shared, alone = result.ours.tree_pss_mib, result.baseline.tree_pss_mib
    proportional = f"; PSS {shared / alone:.2f}: {shared:.0f} MiB against {alone:.0f} MiB" if alone else ""
    return ours / baseline, f"{ours / baseline:.2f} ({ours:.0f} MiB against {baseline:.0f} MiB, {result.size}{proportional})"


def _bounded(
    by_name: dict[str, Result], name: str, text: str, limit: float, measure: Callable[[Result], tuple[float, str]]
) -> Verdict:
    """Issue 25's verdict on `name`: what `measure` makes of its result (a value and how it reads) against `limit`."""
    result = by_name.get(name)
    if result is None:
        return Verdict(text, "not run", None, 25)
    value, measured = measure(result)
    return Verdict(text, measured, value <= limit, 25)


def _floor(by_name: dict[str, Result]) -> list[Verdict]:
    """Issue 25: a no-op within twice an interpreter's start plus one query, both measured in this run."""
    floor = by_name.get("floor")
    found = []
    for name, what in (("noop-direct", "no-op `dbtasks upgrade-all`"), ("status-direct", "`dbtasks status` at head")):
        text = f"{what} ≤ twice `python -c pass` plus one query"
        result = by_name.get(name)
        if result is None or floor is None:
            found.append(Verdict(text, "not run (needs it and floor)", None, 25))
            continue
        # floor's baseline is an interpreter's start, its ours that start plus a query: pass + (start + query)
        limit = floor.baseline.median + floor.ours.median
        measured = f"{result.ours.median:.3f} s against {limit:.3f} s ({floor.baseline.median:.3f} + {floor.ours.median:.3f})"
        found.append(Verdict(text, measured, result.ours.median <= limit, 25))
    return found


def scaling_rows(results: Sequence[Result]) -> list[tuple[int, float, float, float | None, float]]:
    """(revisions, ours median s, s per revision, marginal s per revision since the previous row, baseline median s)."""
    rows: list[tuple[int, float, float, float | None, float]] = []
    previous: Result | None = None
    for result in sorted(results, key=lambda r: r.migrations):
        marginal = None
        if previous is not None:
            marginal = (result.ours.median - previous.ours.median) / (result.migrations - previous.migrations)
        rows.append(
            (result.migrations, result.ours.median, result.ours.median / result.migrations, marginal, result.baseline.median)
        )
        previous = result
    return rows


def _flatness(results: Sequence[Result]) -> Verdict:
    text = f"`verify` cost per revision flat (marginal cost at the top ≤ {FLAT_TOLERANCE}x the one at the bottom)"
    rows = scaling_rows(results)
    marginals = [row[3] for row in rows if row[3] is not None]
    if len(marginals) < 2:
        return Verdict(text, "not run (needs three revision counts)" if rows else "not run", None)
    low, high = marginals[0], marginals[-1]
    measured = f"{low:.3f} → {high:.3f} s per extra revision ({rows[0][0]} → {rows[-1][0]} revisions)"
    if low <= 0 or high <= 0:  # more revisions took less time: noise larger than the effect, no verdict
        return Verdict(text, measured + "; inconclusive (noise), rerun with more --large-runs", None)
    return Verdict(text, measured, high <= FLAT_TOLERANCE * low)


def _marginal_costs(results: Sequence[Result]) -> list[Verdict]:
    """Issue 14: the seconds one more revision adds to verify, at the bottom and at the top of the range."""
    rows = scaling_rows(results)
    steps = [(low[0], high[0], high[3]) for low, high in zip_strict(rows[:-1], rows[1:]) if high[3] is not None]
    found = []
    for where, step in (("bottom", steps[0] if steps else None), ("top", steps[-1] if steps else None)):
        text = f"`verify` marginal cost per revision at the {where} of the range ≤ {MARGINAL_LIMIT} s"
        if step is None:
            found.append(Verdict(text, "not run (needs two revision counts)" if rows else "not run", None, 14))
            continue
        low, high, marginal = step
        measured = f"{marginal:.3f} s per extra revision ({low} → {high} revisions)"
        if marginal <= 0:  # more revisions took less time: noise larger than the effect, no verdict
            found.append(Verdict(text, measured + "; inconclusive (noise), rerun with more --large-runs", None, 14))
        else:
            found.append(Verdict(text, measured, marginal <= MARGINAL_LIMIT, 14))
    return found


# -- text ---------------------------------------------------------------------------------------------


def text_table(results: Sequence[Result]) -> str:
    headers = ("scenario", "size", "baseline s", "ours s", "ratio", "target", "baseline MiB", "ours MiB")
    rows = []
    for r in results:
        target = TARGETS.get(r.scenario)
        verdict = "" if target is None else f"≤{target} {'pass' if r.ratio <= target else 'FAIL'}"
        times = (f"{r.baseline.median:.3f}", f"{r.ours.median:.3f}", f"{r.ratio:.3f}")
        rows.append((r.scenario, r.size, *times, verdict, f"{r.baseline.tree_mib:.0f}", f"{r.ours.tree_mib:.0f}"))
    return _align(headers, rows)


def text_verdicts(found: Sequence[Verdict]) -> str:
    rows = [(str(v.issue), v.target.replace("`", ""), v.measured, _mark(v.passed)) for v in found]
    return _align(("issue", "target", "measured", "result"), rows)


def _align(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(headers[i]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip_strict(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip_strict(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _mark(passed: bool | None) -> str:
    return "not run" if passed is None else ("pass" if passed else "FAIL")


# -- markdown -----------------------------------------------------------------------------------------


def markdown(
    results: Sequence[Result], about: dict[str, str], command: str, notes: Sequence[str], profiles: dict[str, str]
) -> str:
    parts = ["# Benchmarks: dbtasks against the original loop of `alembic` commands", ""]
    parts += ["## Machine", "", "| | |", "|---|---|", *[f"| {key} | {value} |" for key, value in about.items()], ""]
    parts += ["## Reproduce", "", "```bash", command, "```", ""]
    parts += [
        "Method (details in `benchmarks/README.md`): both sides run against the same PostgreSQL in the same run, "
        "on a generated monorepo; runs alternate which side goes first; each run is checked for having done its work "
        "(every schema's `alembic_version` at head, output naming every service) before its time counts. Times are "
        "wall-clock medians; memory is the median over runs of the peak summed RSS of the command's process tree "
        "(sampled; the memory verdict also gives the tree's peak summed PSS, where pages forked processes share count "
        "once) and of its largest single process (exact, `wait4`).",
        "",
    ]
    parts += [
        "## Targets (issues 5, 14 and 25)",
        "",
        "| issue | target | measured (ours/baseline) | result |",
        "|---:|---|---|---|",
    ]
    parts += [f"| {v.issue} | {v.target} | {v.measured} | {_mark(v.passed)} |" for v in verdicts(results)]
    parts += [
        "",
        "## Summary",
        "",
        "| scenario | size | baseline median s | ours median s | ratio | baseline peak MiB | ours peak MiB |",
    ]
    parts += ["|---|---|---:|---:|---:|---:|---:|"]
    parts += [
        f"| {r.scenario} | {r.size} | {r.baseline.median:.3f} | {r.ours.median:.3f} | {r.ratio:.3f} | "
        f"{r.baseline.tree_mib:.0f} | {r.ours.tree_mib:.0f} |"
        for r in results
    ]
    parts.append("")
    for r in results:
        parts += _scenario_section(r)
    scaling = [r for r in results if r.scenario == "verify-scaling"]
    if scaling:
        parts += [
            "## verify: cost per revision",
            "",
            "| revisions | ours median s | s per revision | marginal s per revision | baseline median s |",
        ]
        parts += ["|---:|---:|---:|---:|---:|"]
        for revisions, median, per, marginal, baseline in scaling_rows(scaling):
            shown = "" if marginal is None else f"{marginal:.3f}"
            parts.append(f"| {revisions} | {median:.3f} | {per:.3f} | {shown} | {baseline:.3f} |")
        parts += ["", *_marginal_sentence(scaling)]
    if notes:
        parts += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    for name, text in profiles.items():
        parts += [f"## Profile: {name}", "", "```", text.rstrip(), "```", ""]
    return "\n".join(parts)


def _marginal_sentence(scaling: Sequence[Result]) -> list[str]:
    """The marginal costs at the bottom and the top of the range, stated against issue 14's limit."""
    if len(scaling) < 2:
        return []
    bottom, top = (f"{v.measured}: {_mark(v.passed)}" for v in _marginal_costs(scaling))
    return [
        f"Marginal cost per revision against issue 14's limit of {MARGINAL_LIMIT} s: at the bottom of the range "
        f"{bottom}; at the top {top}.",
        "",
    ]


def _scenario_section(r: Result) -> list[str]:
    runs = len(r.ours.seconds)
    lines = [f"### {r.scenario} ({r.size}, {runs} runs): {r.summary}", ""]
    lines += [
        "| side | command | median s | min s | max s | peak tree MiB | largest process MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for side, label, summary in (("baseline", r.baseline_label, r.baseline), ("ours", r.ours_label, r.ours)):
        lines.append(
            f"| {side} | {label} | {summary.median:.3f} | {min(summary.seconds):.3f} | {max(summary.seconds):.3f} | "
            f"{summary.tree_mib:.0f} | {summary.process_mib:.0f} |"
        )
    target = TARGETS.get(r.scenario)
    verdict = "" if target is None else f" (target ≤ {target}: {'pass' if r.ratio <= target else 'FAIL'})"
    return [*lines, "", f"Ratio ours/baseline: **{r.ratio:.3f}**{verdict}", ""]


def as_json(results: Sequence[Result], about: dict[str, str], command: str, notes: Sequence[str]) -> str:
    document: dict[str, Any] = {
        "machine": about,
        "command": command,
        "results": [{**asdict(r), "ratio": r.ratio, "target": TARGETS.get(r.scenario)} for r in results],
        "verdicts": [asdict(v) for v in verdicts(results)],
        "notes": list(notes),
    }
    return json.dumps(document, indent=2) + "\n"


# -- machine details ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The commit of this checkout, and whether the code measured differs from it (read-only git calls)."""
    try:
        head = _git("rev-parse", "HEAD")
        changed = _git("--no-optional-locks", "status", "--porcelain", "--", "dbtasks", "tasks.py", "pyproject.toml")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    files = len(changed.splitlines())
    noun = "file" if files == 1 else "files"
    return (
        f"{head[:12]} + uncommitted changes ({files} {noun} under dbtasks/, tasks.py, pyproject.toml)" if changed else head[:12]
    )


def _git(*arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
