"""`dbtasks TASK` runs the same tasks as `inv db.TASK` without Invoke: a task of each kind is run both ways here, each
way on a database of its own, and must give the same exit code, the same output and the same effect on the database.
Both ways parse options with the task's one description and call its one body (cli/registry.py); every task runs
through Invoke in tests/cli/test_in_a_process.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import REPO, dbtasks_command, head_of, inv, show, snapshot, task_environment, version

from dbtasks.cli import registry

# One invocation per task, chosen to be cheap and to reach the task's body: a real run where it is quick, else the
# refusal or failure every user meets first. Each runs on a fresh database (the same state for both ways).
INVOCATIONS: dict[str, tuple[str, ...]] = {
    "upgrade": ("upgrade", "habits"),
    "downgrade": ("downgrade", "habits"),  # no --yes: refused
    "generate": ("generate", "nope", "-m", "x"),  # unknown service (a real generate writes into the project)
    "check": ("check", "users"),  # not at head: fails
    "sql": ("sql", "users"),
    "reset": ("reset", "habits"),  # no --yes: refused
    "stamp": ("stamp", "habits", "head"),  # no --yes: refused
    "merge": ("merge", "habits"),  # one head: nothing to merge
    "current": ("current", "habits"),
    "history": ("history", "meals"),
    "heads": ("heads", "journal"),
    "status": ("status", "--json"),
    "upgrade-all": ("upgrade-all", "--only", "users,meals", "-j", "1"),
    "downgrade-all": ("downgrade-all", "--to", "base"),  # no --yes: refused
    "check-all": ("check-all", "--json", "--only", "users"),
    "sql-all": ("sql-all",),  # no --output-dir: refused
    "reset-all": ("reset-all",),  # no --yes: refused
    "stamp-all": ("stamp-all", "base"),  # no --yes: refused
    "verify": ("verify", "nope"),
    "verify-all": ("verify-all", "--only", "nope"),
    "doctor": ("doctor", "--env", "nope"),
    "lint": ("lint", "habits", "--json"),
    "lint-all": ("lint-all", "--only", "users,movements"),
    "checksums": ("checksums", "habits", "--json"),  # nothing applied: an empty list
    "adopt": ("adopt", "--service", "movements", "--json"),  # nothing recorded anywhere
    "plan": ("plan", "--json", "--only", "users,movements"),  # everything pending on an empty database
    "graph": ("graph", "--services", "--format", "dot"),
    "report": ("report",),  # no --html: refused
    "local-start": ("local-start",),  # DATABASE_URL is set: refused
    "local-stop": ("local-stop",),  # nothing running in the copy
    "local-url": ("local-url",),  # not running: said so
}


# A task of each kind: writing, refused without --yes, failing, JSON, an -all run, offline, a check, doctor, lint,
# checksums and the local database.
COMPARED = (
    "upgrade",
    "downgrade",
    "check",
    "status",
    "upgrade-all",
    "sql-all",
    "verify",
    "doctor",
    "lint",
    "checksums",
    "adopt",
    "local-url",
)


def test_every_task_has_an_invocation_here() -> None:
    assert sorted(name for name, _, _ in registry.definitions(REPO / "migrations.yaml")) == sorted(INVOCATIONS)
    assert set(COMPARED) <= set(INVOCATIONS)


@pytest.mark.parametrize("task", COMPARED)
def test_a_task_run_by_dbtasks_is_the_same_as_by_inv(task: str, project: Path, make_database: Callable[[], str]) -> None:
    args = INVOCATIONS[task]
    by_inv_url, by_dbtasks_url = make_database(), make_database()
    by_inv = inv(project, f"db.{args[0]}", *args[1:], url=by_inv_url)
    by_dbtasks = dbtasks_command(project, *args, url=by_dbtasks_url)
    assert "Traceback" not in by_inv.stderr + by_dbtasks.stderr, show(by_inv) + show(by_dbtasks)
    assert by_dbtasks.returncode == by_inv.returncode, show(by_inv) + show(by_dbtasks)
    same = lambda text: text.replace(by_dbtasks_url.rsplit("/", 1)[1], by_inv_url.rsplit("/", 1)[1])  # noqa: E731
    assert same(by_dbtasks.stdout) == by_inv.stdout, show(by_inv) + show(by_dbtasks)
    assert same(by_dbtasks.stderr) == by_inv.stderr, show(by_inv) + show(by_dbtasks)
    assert snapshot(by_dbtasks_url) == snapshot(by_inv_url)  # the same effect on the database, tables and rows


def test_dbtasks_upgrade_changes_the_database(project: Path, database_url: str) -> None:
    result = dbtasks_command(project, "db.upgrade", "habits", "--to", "+1", url=database_url)
    assert result.returncode == 0, show(result)
    assert version(database_url, "habits") != [] and version(database_url, "habits") != [head_of("habits")]
    assert dbtasks_command(project, "upgrade", "--service=habits", url=database_url).returncode == 0
    assert version(database_url, "habits") == [head_of("habits")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("upgrade",), "dbtasks upgrade: missing SERVICE; see 'dbtasks upgrade --help'"),
        (("upgrade", "habits", "--nope"), "dbtasks upgrade: no option '--nope'; see 'dbtasks upgrade --help'"),
        (("upgrade", "habits", "--to"), "dbtasks upgrade: --to needs a value; see 'dbtasks upgrade --help'"),
        (("upgrade", "habits", "users"), "dbtasks upgrade: unexpected argument 'users'; see 'dbtasks upgrade --help'"),
        (("downgrade", "habits", "--yes=1"), "dbtasks downgrade: --yes takes no value; write --yes alone"),
        (("upgrad",), "dbtasks: unknown task 'upgrad'; 'dbtasks --list' shows the tasks"),
    ],
)
def test_a_bad_command_line_is_one_line_and_touches_nothing(
    args: tuple[str, ...], message: str, project: Path, database_url: str
) -> None:
    before = snapshot(database_url)
    result = dbtasks_command(project, *args, url=database_url)
    assert result.returncode == 2 and result.stderr == message + "\n" and result.stdout == "", show(result)
    assert snapshot(database_url) == before


def test_help_and_list_name_every_option_and_task(project: Path) -> None:
    listing = dbtasks_command(project, "--list")
    assert listing.returncode == 0 and all(f"  {name} " in listing.stdout for name in INVOCATIONS), show(listing)
    usage = dbtasks_command(project, "downgrade", "-h")
    assert usage.returncode == 0, show(usage)
    for flag in ("-t, --to TO", "-y, --yes", "--lock-wait LOCK_WAIT", "-e, --env ENV", "-v, --verbose"):
        assert flag in usage.stdout, show(usage)


def test_no_migrations_yaml_is_one_line(tmp_path: Path) -> None:
    result = dbtasks_command(tmp_path, "status")
    assert result.returncode == 2 and result.stderr.startswith("dbtasks: no migrations.yaml in "), show(result)
    assert result.stderr.rstrip().endswith("run it in your project, or set DBTASKS_CONFIG") and result.stderr.count("\n") == 1


def test_the_dbtasks_command_never_imports_invoke(project: Path) -> None:
    code = "import sys; from dbtasks.__main__ import main; main(['--list']); print(sorted(m for m in sys.modules if m.split('.')[0] == 'invoke'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip().endswith("[]"), show(result)


def test_each_process_of_a_run_freezes_its_objects_before_the_interpreter_s_teardown(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    """`inv`, `dbtasks` and a spawned worker each have gc.freeze run after every other exit function, so that the
    interpreter's teardown walks none of their objects (17 ms of each `inv` run's end). A sitecustomize registers,
    before anything of ours, a function that writes each process's freeze count at its very end."""
    site = tmp_path / "site"
    site.mkdir()
    counts = tmp_path / "frozen"
    (site / "sitecustomize.py").write_text(
        "import atexit, gc, os\n"
        f"atexit.register(lambda: open({str(counts)!r}, 'a').write(f'{{os.getpid()}} {{gc.get_freeze_count()}}\\n'))\n"
    )
    env = {"PYTHONPATH": str(site), "DBTASKS_FORKSERVER": "0", "DBTASKS_FASTPATH": "0"}  # a worker, spawned
    for command in (["-m", "invoke", "db.current", "habits"], ["-m", "dbtasks", "current", "habits"]):
        counts.unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, *command], cwd=project, env=task_environment(database_url, env), capture_output=True, text=True
        )
        assert result.returncode == 0, show(result)
        lines = counts.read_text().split()
        assert len(lines) == 4 and all(int(count) > 0 for count in lines[1::2]), (command, lines)  # ours and its worker
    once = "import atexit; from dbtasks.cli import freeze_at_exit; n = atexit._ncallbacks(); freeze_at_exit(); freeze_at_exit(); print(atexit._ncallbacks() - n)"
    registered = subprocess.run([sys.executable, "-c", once], capture_output=True, text=True, check=False)
    assert registered.stdout == "1\n", show(registered)
