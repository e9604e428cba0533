"""Running a task as a user does (inv, dbtasks, in this process or another) and asserting on what it printed."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from .catalog import query


def start_fork_server() -> None:
    """This process's fork server, importing the example services' drivers, as a run of their tasks starts it."""
    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    from .project import declared_services

    drivers = tuple(sorted({str(service.get("driver", "psycopg2")) for service in declared_services().values()}))
    forkserver.server_for(sys.executable, WORKER, start=True, drivers=drivers)


def task_environment(url: str | None, env: dict[str, str] | None) -> dict[str, str]:
    """The environment a task runs with: ours without DATABASE_URL and DBTASKS_DEBUG, plus `url` and `env`."""
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DBTASKS_DEBUG")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in the real repo
    if url is not None:
        environment["DATABASE_URL"] = url
    environment.update(env or {})
    return environment


def inv(project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `inv ARGS` in `project` inside this test process, as `python -m invoke` would (cwd, environment,
    tasks.py, exit code, stdout and stderr), with DATABASE_URL=url when given (and never inherited).

    Workers still run as processes of their own (forked from this process's fork server, which the first
    task that needs one starts); `inv_process` runs the whole task in a new interpreter instead."""
    from invoke import Program

    return _in_process(project, ["inv", *args], lambda: Program(version="test").run(["inv", *args]), url, env)


def dbtasks_command(
    project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `dbtasks ARGS` (the tasks without Invoke) in `project` inside this test process, as `inv` does."""
    from dbtasks.__main__ import main

    return _in_process(project, ["dbtasks", *args], lambda: sys.exit(main(list(args))), url, env)


def _in_process(
    project: Path, argv: list[str], run: Callable[[], object], url: str | None, env: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    saved_environ, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.clear()
        os.environ.update(task_environment(url, env))
        os.chdir(project)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                run()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception:  # what an uncaught error looks like from a process: a traceback and exit 1
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())


def inv_process(
    project: Path, *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `inv ARGS` in `project` as a process of its own (`python -m invoke`)."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=task_environment(url, env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_PROGRESS = re.compile(r"^[a-z][a-z0-9_-]* \| ")


def show(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, show(result)
    assert "Traceback" not in output(result), show(result)
    return result


# The lines saying which database a task targets and that the local database started (not errors).
_ANNOUNCEMENT = re.compile(r"^(target( of \S+)?: |(initialized and )?started the local PostgreSQL )")


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr's non-empty lines, without the worker progress lines (prefixed 'service | ') and the target lines."""
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not _PROGRESS.match(line) and not _ANNOUNCEMENT.match(line)
    ]


def assert_bad_input(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """Bad configuration or usage: exit `code` and exactly one non-empty stderr line (besides the target line), no traceback."""
    assert result.returncode == code, show(result)
    assert "Traceback" not in output(result), show(result)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not _ANNOUNCEMENT.match(line)]
    assert len(lines) == 1, show(result)
    return lines[0]


def assert_failure(result: subprocess.CompletedProcess[str], service: str, code: int = 1) -> str:
    """A failed service operation: exit `code`, one error line naming the service, no traceback."""
    assert result.returncode == code, show(result)
    assert "Traceback" not in output(result), show(result)
    lines = error_lines(result)
    assert len(lines) == 1, show(result)
    assert lines[0].startswith(f"{service}: "), show(result)
    return lines[0]


def summary_states(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """service -> (result, detail) from the summary table a *-all task prints."""
    states: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(\S+)\s+(ok|failed|skipped)(?:\s+(.*))?$", line)
        if match:
            states[match[1]] = (match[2], match[3] or "")
    return states


def ctrl_c_while(cwd: Path, url: str, args: list[str], running: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `python -m invoke ARGS` in its own process group (as a terminal's Ctrl-C reaches it), send SIGINT to the
    group once a query starting with `running` shows in pg_stat_activity: how the process ended, and how many
    seconds after the signal."""
    import signal
    import time

    # An ignored SIGINT is inherited by the child, which would then never see the Ctrl-C: say so, not a timeout.
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN, "SIGINT is ignored in the test process"
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=cwd,
        env=task_environment(url, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not query(url, "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s", (running + "%",)):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        interrupted_at = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        took = time.monotonic() - interrupted_at
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), took


def typed_at_a_terminal(cwd: Path, env: dict[str, str], args: list[str], typed: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m invoke ARGS` with a terminal as its stdin and `typed` (and Enter) typed on it."""
    import pty

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=cwd,
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(controller, f"{typed}\n".encode())
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
