"""Shell completion: `dbtasks complete WORD`, and docs/completion/dbtasks.bash run in a real bash (and zsh) with
COMP_WORDS / COMP_CWORD set as the shell sets them on TAB, in a copy of the project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _support import REPO, declared_services, show

SCRIPT = REPO / "docs" / "completion" / "dbtasks.bash"
BIN = Path(sys.executable).parent
SERVICES = list(declared_services())  # users, habits, movements, meals, practices, journal
LAYOUT_SERVICES = list(declared_services(REPO / "examples" / "layouts"))
# What `bash` runs: the script, then the completion function with the words given as arguments (cursor on the last).
DRIVER = 'source "$SCRIPT"; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _dbtasks_complete_inv; printf "%s\\n" "${COMPREPLY[@]}"'


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCRIPT": str(SCRIPT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def complete_in_bash(cwd: Path, *words: str) -> list[str]:
    """COMPREPLY for the command line `words`, the cursor at the end of the last word."""
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", DRIVER, "bash", *words],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", show(result)
    return [line for line in result.stdout.splitlines() if line]


def dbtasks_complete(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtasks", "complete", *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def script_words(variable: str) -> set[str]:
    match = re.search(rf'^{variable}="([^"]*)"$', SCRIPT.read_text(encoding="utf-8"), re.M)
    assert match, variable
    return set(match[1].split())


# -- the bash function ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("inv", "db.upgrade", "ha"), ["habits"]),
        (("inv", "db.upgrade", ""), SERVICES),
        (("invoke", "db.check", "m"), ["movements", "meals"]),
        (("inv", "db.upgrade", "--service", "m"), ["movements", "meals"]),
        (("inv", "db.upgrade", "--service", "=", "p"), ["practices"]),  # --service=p<TAB>: bash splits at '='
        (("inv", "db.upgrade", "--to", "abc", "j"), ["journal"]),
        (("inv", "db.downgrade", "-y", "--to", "=", "base", "u"), ["users"]),
        (("inv", "--echo", "db.generate", "-m", "add color", "ha"), ["habits"]),
        (("inv", "db.upgrade", "habits", "db.verify", "ha"), ["habits"]),  # a second task on the line
    ],
)
def test_service_names_after_a_task_that_takes_one(project: Path, words: tuple[str, ...], expected: list[str]) -> None:
    assert complete_in_bash(project, *words) == expected


@pytest.mark.parametrize("task", sorted(script_words("_dbtasks_service_tasks")))
def test_every_service_task(project: Path, task: str) -> None:
    assert complete_in_bash(project, "inv", f"db.{task}", "jo") == ["journal"]


def test_invoke_still_completes_tasks_and_options(project: Path) -> None:
    assert complete_in_bash(project, "inv", "db.up") == ["db.upgrade", "db.upgrade-all"]
    assert complete_in_bash(project, "inv", "db.upgrade", "--") == [
        "--allow-edited",
        "--create-databases",
        "--lock-wait",
        "--service",
        "--env",
        "--to",
        "--verbose",
    ]
    assert complete_in_bash(project, "inv", "db.upgrade", "--s") == ["--service"]
    assert sorted(complete_in_bash(project, "inv", "--li")) == ["--list", "--list-depth", "--list-format"]


@pytest.mark.parametrize(
    "words",
    [
        ("inv", "db.upgrade", "habits", "ha"),  # SERVICE is given: nothing of ours
        ("inv", "db.stamp", "habits", "ha"),  # stamp's second argument is a revision
        ("inv", "db.status", "ha"),  # status takes no service
        ("inv", "db.upgrade", "--to", "ha"),  # the value of --to
        ("inv", "db.upgrade", "--service", "habits", "ha"),
    ],
)
def test_no_service_names_elsewhere(project: Path, words: tuple[str, ...]) -> None:
    assert complete_in_bash(project, *words) == []


def test_search_root_and_a_subfolder(project: Path) -> None:
    layouts = REPO / "examples" / "layouts"
    assert complete_in_bash(project, "inv", "-r", str(layouts), "db.check", "p") == ["plain_sync", "plain_async", "parts"]
    assert complete_in_bash(project / "services" / "habits", "inv", "db.check", "") == SERVICES  # the nearest migrations.yaml
    assert set(LAYOUT_SERVICES) == {"plain_sync", "plain_async", "accounts", "billing", "ledger", "parts"}


def test_outside_a_project_nothing_and_no_error(tmp_path: Path) -> None:
    assert complete_in_bash(tmp_path, "inv", "db.upgrade", "") == []


def test_it_replaces_invokes_own_registration() -> None:
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", 'source "$SCRIPT"; complete -p inv invoke'],
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.splitlines() == [
        "complete -o default -F _dbtasks_complete_inv inv",
        "complete -o default -F _dbtasks_complete_inv invoke",
    ]


def test_the_scripts_lists_match_the_tasks_and_invoke() -> None:
    """The tasks taking a SERVICE first, their options without a value, Invoke's core options with one."""
    from invoke import Program

    from dbtasks.cli import build_db_collection

    tasks = build_db_collection(REPO / "migrations.yaml").tasks
    assert script_words("_dbtasks_service_tasks") == {name for name, task in tasks.items() if task.positional[:1] == ["service"]}
    flags = {
        ("--" if len(name) > 1 else "-") + name
        for name, task in tasks.items()
        if task.positional[:1] == ["service"]
        for argument in task.get_arguments()
        if argument.kind is bool
        for name in argument.names
    }
    assert flags <= script_words("_dbtasks_task_flags")
    core = {
        ("--" if len(name) > 1 else "-") + name
        for argument in [*Program().core_args(), *Program().task_args()]
        if argument.kind is not bool and not argument.optional
        for name in argument.names
    }
    assert core == script_words("_dbtasks_core_values")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here (apt-get install zsh)")
def test_the_same_script_in_zsh(project: Path) -> None:
    """zsh loads compinit and bashcompinit; the function reads COMP_WORDS from 0 as bash does (zsh filters
    the candidates itself: bashcompinit's compgen -W returns them all)."""
    driver = DRIVER.replace('printf "%s\\n" "${COMPREPLY[@]}"', 'print -rl -- "${COMPREPLY[@]}"; print -r -- "${_comps[inv]}"')
    result = subprocess.run(
        ["zsh", "-f", "-c", driver, "zsh", "inv", "db.upgrade", "ha"],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, show(result)
    assert result.stdout.splitlines() == ["habits", "_bash_complete -F _dbtasks_complete_inv -o default"]
    tasks = subprocess.run(
        ["zsh", "-f", "-c", driver, "zsh", "inv", "db.up"],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "db.upgrade-all" in tasks.stdout.splitlines(), show(tasks)


# -- dbtasks complete ------------------------------------------------------------------------------


def test_dbtasks_complete_prints_matching_names(project: Path, tmp_path: Path) -> None:
    assert dbtasks_complete(project, "m").stdout == "movements\nmeals\n"
    assert dbtasks_complete(project).stdout == "".join(f"{name}\n" for name in SERVICES)
    assert dbtasks_complete(project, "--", "-x").stdout == ""
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nservices:\n  billing: {path: x}\n  bookings: {path: y}\n", encoding="utf-8")
    result = dbtasks_complete(project, "b", "--config", str(other))
    assert (result.returncode, result.stdout, result.stderr) == (0, "billing\nbookings\n", "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("version: 1\nservices: [\n", 1),  # does not parse: an error completes nothing
        ("- a list\n", 0),  # parses, but holds no services: nothing to complete
        ("services:\n  habits: {path: x\n", 1),
        ("\0binary", 1),
    ],
)
def test_dbtasks_complete_is_silent_on_errors(tmp_path: Path, text: str, code: int) -> None:
    (tmp_path / "migrations.yaml").write_text(text, encoding="utf-8")
    result = dbtasks_complete(tmp_path, "h")
    assert (result.returncode, result.stdout, result.stderr) == (code, "", ""), show(result)
    nothing = dbtasks_complete(tmp_path / "..", "--config", str(tmp_path / "missing.yaml"))
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (1, "", "")
