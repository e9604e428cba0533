"""Every task is listed with a one-line help, and every argument of every task is documented."""

from __future__ import annotations

import re

import pytest
from conftest import REPO, assert_ok, inv

PER_SERVICE = ["upgrade", "downgrade", "generate", "check", "sql", "reset", "stamp", "merge", "current", "history", "heads"]
ALL_SERVICES = ["upgrade-all", "downgrade-all", "check-all", "sql-all", "reset-all", "stamp-all", "status"]
CHECKS = ["verify", "verify-all", "doctor", "lint", "lint-all", "checksums"]
LOCAL = ["local-start", "local-stop", "local-url"]
TASKS = [f"db.{name}" for name in PER_SERVICE + ALL_SERVICES + CHECKS + LOCAL]


def listed_tasks() -> dict[str, str]:
    """task -> its help in `inv --list` (wrapped lines joined)."""
    result = assert_ok(inv(REPO, "--list"))
    tasks: dict[str, str] = {}
    current = None
    for line in result.stdout.splitlines():
        match = re.match(r"^  (\S+)(?:\s+(.*))?$", line)
        if match:
            current = match[1]
            tasks[current] = match[2] or ""
        elif current and line.startswith("   ") and line.strip():
            tasks[current] += " " + line.strip()
    return tasks


def options(task: str) -> dict[str, str]:
    """--option -> its help in `inv --help TASK` (wrapped lines joined)."""
    result = assert_ok(inv(REPO, "--help", task))
    section = result.stdout.split("Options:", 1)[1]
    found: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = re.match(r"^  (?:-\w(?: \w+)?, )?(--[\w-]+)(?:=\w+)?(?:\s{2,}(.*))?$", line)
        if match:
            current = match[1]
            found[current] = (match[2] or "").strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found


def test_list_shows_every_task_with_a_one_line_help() -> None:
    listed = listed_tasks()
    assert set(listed) == set(TASKS), "a task is missing from this test's lists (or from inv --list)"
    for task in TASKS:
        assert task in listed, f"{task} missing from inv --list"
        help_text = listed[task]
        assert help_text, f"{task} has no help"
        assert help_text.endswith("."), help_text  # one sentence, not a truncated paragraph


@pytest.mark.parametrize(
    ("task", "arguments"),
    [
        ("db.upgrade", {"--service", "--to"}),
        ("db.downgrade", {"--service", "--to", "--yes"}),
        ("db.generate", {"--service", "--message", "--empty"}),
        ("db.sql", {"--service", "--from", "--to", "--output"}),
        ("db.stamp", {"--service", "--revision", "--yes"}),
        ("db.status", {"--json", "--only", "--exclude", "--jobs"}),
        ("db.upgrade-all", {"--only", "--exclude", "--jobs", "--fail-fast"}),
        ("db.check-all", {"--json", "--lint", "--only", "--exclude", "--jobs", "--fail-fast"}),
        ("db.sql-all", {"--output-dir", "--only", "--exclude", "--jobs"}),
        ("db.downgrade-all", {"--to", "--yes", "--only", "--exclude", "--jobs", "--fail-fast"}),
        ("db.verify", {"--service", "--json", "--junit", "--keep", "--env"}),
        ("db.verify-all", {"--json", "--junit", "--keep", "--only", "--exclude", "--jobs", "--fail-fast", "--env"}),
        ("db.doctor", {"--json", "--jobs", "--env"}),
        ("db.lint", {"--service", "--from", "--json", "--junit"}),
        ("db.lint-all", {"--json", "--junit", "--only", "--exclude", "--jobs"}),
    ],
)
def test_help_documents_the_arguments_the_issue_names(task: str, arguments: set[str]) -> None:
    documented = options(task)
    assert arguments <= set(documented), documented
    for argument in arguments:
        assert documented[argument], f"{task} {argument} has no help"


@pytest.mark.parametrize("task", TASKS)
def test_help_documents_every_argument(task: str) -> None:
    for argument, help_text in options(task).items():
        assert help_text, f"{task} {argument} has no help"


def test_readme_task_reference_matches_the_tasks() -> None:
    """The README's task table is generated from the tasks; regenerate it with `python -m dbtasks.cli.reference`."""
    from dbtasks.cli.reference import task_reference

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- tasks:start")
    block = readme[readme.index("\n", start) + 1 : readme.index("<!-- tasks:end -->")].strip()
    assert block == task_reference(), "README task reference is stale: run `python -m dbtasks.cli.reference` and paste it"
