"""Every task is listed with a one-line help, every argument of every task is documented, and the documentation
(README.md, docs/) shows only YAML that loads, migrations.yaml files that pass validation and commands that exist."""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import shlex
from pathlib import Path

import pytest
import yaml
from _support import REPO, assert_ok, inv

from dbtasks import config
from dbtasks.errors import ConfigError

PER_SERVICE = ["upgrade", "downgrade", "generate", "check", "sql", "reset", "stamp", "merge", "current", "history", "heads"]
ALL_SERVICES = ["upgrade-all", "downgrade-all", "check-all", "sql-all", "reset-all", "stamp-all", "status"]
CHECKS = ["verify", "verify-all", "doctor", "lint", "lint-all", "checksums", "adopt", "plan", "graph", "report"]
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
    """Every parameter of the task's body is listed by `inv --help` with a help text (an empty parse fails here)."""
    import inspect

    from dbtasks.cli import registry

    bodies = {f"db.{name}": body for name, body, _ in registry.definitions(REPO / "migrations.yaml")}
    parameters = [name for name in inspect.signature(bodies[task]).parameters if name != "c"]
    found = options(task)
    assert sorted(found) == sorted("--" + name.rstrip("_").replace("_", "-") for name in parameters)
    for argument, help_text in found.items():
        assert help_text, f"{task} {argument} has no help"


def test_docs_task_reference_matches_the_tasks() -> None:
    """docs/tasks.md's task table is generated from the tasks; regenerate it with `python -m dbtasks.cli.reference`."""
    from dbtasks.cli.reference import task_reference

    page = (REPO / "docs" / "tasks.md").read_text(encoding="utf-8")
    start = page.index("<!-- tasks:start")
    block = page[page.index("\n", start) + 1 : page.index("<!-- tasks:end -->")].strip()
    assert block == task_reference(), "docs/tasks.md task reference is stale: run `python -m dbtasks.cli.reference` and paste it"


# -- the documentation's examples -----------------------------------------------------------------------------------

# A YAML block that is not a whole migrations.yaml says so on the line before its fence; a whole one may name a folder
# of this repository whose services it describes (validated with that folder's files, as if it lay there).
FRAGMENT = "<!-- fragment -->"
IN_FOLDER = re.compile(r"^<!-- migrations\.yaml of (\S+) -->$")
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(*languages: str) -> list[tuple[str, str, str, str]]:
    """(where: file:line, language, the line before the fence, the text) of every fenced block in one of `languages`."""
    found = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match[1] in languages:
                line = text.count("\n", 0, match.start())
                before = text.splitlines()[line - 1].strip() if line else ""
                found.append((f"{path.relative_to(REPO)}:{line + 1}", match[1], before, match[2]))
    return found


YAML_BLOCKS = [(where, before, text) for where, _, before, text in blocks("yaml", "yml")]


def test_the_docs_show_yaml_at_all() -> None:
    assert sum(before != FRAGMENT for _, before, _ in YAML_BLOCKS) >= 3, YAML_BLOCKS  # whole migrations.yaml files


@pytest.mark.parametrize(("where", "before", "text"), YAML_BLOCKS, ids=[where for where, _, _ in YAML_BLOCKS])
def test_every_yaml_block_loads_and_every_migrations_yaml_passes_validation(
    where: str, before: str, text: str, tmp_path: Path
) -> None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        pytest.fail(f"{where}: not valid YAML: {error}")
    whole = isinstance(data, dict) and "version" in data and "services" in data
    if before == FRAGMENT:
        assert not whole, f"{where}: a whole migrations.yaml is marked {FRAGMENT}: drop the marker, it must validate"
        return
    assert whole, f"{where}: a YAML block without top-level version: and services:; mark it {FRAGMENT} on the line above"
    folder = IN_FOLDER.match(before)
    if folder:
        source = REPO / folder[1]
        assert (source / "migrations.yaml").is_file(), f"{where}: {folder[1]} holds no migrations.yaml"
        for entry in source.iterdir():
            if entry.name not in ("migrations.yaml", ".dbtasks"):
                (tmp_path / entry.name).symlink_to(entry)
    else:
        stub_services(tmp_path, data["services"])
    (tmp_path / "migrations.yaml").write_text(text, encoding="utf-8")
    try:
        config.load(tmp_path / "migrations.yaml")
    except ConfigError as error:
        pytest.fail(f"{where}: dbtasks refuses this migrations.yaml:\n{error}")


def stub_services(root: Path, services: dict[str, dict[str, object]]) -> None:
    """What validation looks for of each service: its folder, its alembic.ini and its `python:` interpreter."""
    for settings in services.values():
        folder = root / str(settings["path"])
        folder.mkdir(parents=True, exist_ok=True)
        ini = str(settings.get("alembic_ini", "alembic.ini"))
        if Path(ini).name == "pyproject.toml":
            (folder / ini).write_text('[tool.alembic]\nscript_location = "alembic"\n')
        else:
            (folder / ini).write_text(f"[{settings.get('ini_section', 'alembic')}]\nscript_location = alembic\n")
        for file in settings.get("prepare", []):  # type: ignore[attr-defined]
            (folder / str(file)).parent.mkdir(parents=True, exist_ok=True)
            (folder / str(file)).write_text("SELECT 1;\n")
        if "python" in settings:
            python = folder / str(settings["python"])
            python.parent.mkdir(parents=True, exist_ok=True)
            python.write_text("#!/bin/sh\n")
            python.chmod(0o755)


def shown_commands() -> list[tuple[str, list[str]]]:
    """(where, tokens) of every `inv ...` and `dbtasks ...` command of a console, bash or sh block; in a console block
    only the `$ ` lines are commands. Pipes, `&&`, `||` and `;` separate commands; a redirection ends one's arguments,
    and `VARIABLE=value` words before a command are left out."""
    found = []
    for where, language, _, text in blocks("console", "bash", "sh"):
        path, start = where.rsplit(":", 1)
        for number, line in enumerate(text.replace("\\\n", " ").splitlines(), start=int(start) + 1):
            if language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            command: list[str] = []
            for token in [*lexer, ";"]:
                if not command and re.match(r"^[A-Za-z_]\w*=", token):  # VARIABLE=value before the command
                    continue
                if token and set(token) <= set("|&;"):
                    if command and Path(command[0]).name in ("inv", "invoke", "dbtasks"):
                        found.append((f"{path}:{number}", command))
                    command = []
                elif token and set(token) <= set("<>&"):
                    command.append("<redirect>")
                else:
                    command.append(token)
    return found


@functools.cache
def flags(task: str) -> frozenset[str]:
    """Every flag, short and long, of `inv --help TASK`."""
    result = assert_ok(inv(REPO, "--help", task))
    found: set[str] = set()
    for line in result.stdout.split("Options:", 1)[1].splitlines():
        if line.startswith("  -"):
            column = re.split(r"\s{2,}", line.strip())[0]
            found.update(re.findall(r"(?<![\w-])(--?[\w-]+)", column))
    return frozenset(found)


def command_flags(name: str) -> frozenset[str]:
    """The flags a `dbtasks COMMAND` (init, check-files, complete) knows: those its module names."""
    from dbtasks.__main__ import COMMANDS

    source = inspect.getsource(importlib.import_module(COMMANDS[name][0]))
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", source))


def given_flags(arguments: list[str]) -> list[str]:
    """The flags among a command's arguments (up to a redirection): `--to=base` is --to; `-1` is a value."""
    taken = []
    for argument in arguments:
        if argument == "<redirect>":
            break
        if argument.startswith("-") and not re.match(r"^-\d", argument) and argument != "-":
            taken.append(argument.split("=", 1)[0])
    return taken


SHOWN = shown_commands()


def test_the_docs_show_commands_of_both_kinds() -> None:
    programs = {Path(tokens[0]).name for _, tokens in SHOWN}
    assert {"inv", "dbtasks"} <= programs, SHOWN


@pytest.mark.parametrize(("where", "tokens"), SHOWN, ids=[f"{w}:{' '.join(t[:2])}" for w, t in SHOWN])
def test_every_command_shown_exists_with_the_options_shown(where: str, tokens: list[str]) -> None:
    from dbtasks.__main__ import COMMANDS

    program, arguments = Path(tokens[0]).name, tokens[1:]
    listed = listed_tasks()
    shown = " ".join(tokens)
    if program == "dbtasks":
        if not arguments or arguments[0] in ("--list", "-l", "--help", "-h"):
            return
        name = arguments[0].removeprefix("db.")
        if name in COMMANDS:
            unknown = set(given_flags(arguments[1:])) - command_flags(name)
            assert not unknown, f"{where}: `{shown}`: dbtasks {name} has no {', '.join(sorted(unknown))}"
            return
        task, rest = f"db.{name}", arguments[1:]
    else:
        tasks = [i for i, argument in enumerate(arguments) if argument.startswith("db.")]
        if not tasks:  # Invoke's own options only (inv --list)
            return
        task, rest = arguments[tasks[0]], arguments[tasks[0] + 1 :]
    assert task in listed, f"{where}: `{shown}`: no task {task} (inv --list)"
    unknown = set(given_flags(rest)) - flags(task) - {"--help", "-h"}
    assert not unknown, f"{where}: `{shown}`: {task} has no {', '.join(sorted(unknown))} (inv --help {task})"


def test_the_readme_stays_short() -> None:
    """What it is, install, the two commands, a first session, adoption and links: the rest lives under docs/."""
    assert len((REPO / "README.md").read_bytes()) <= 15_000
