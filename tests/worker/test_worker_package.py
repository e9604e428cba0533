"""The worker package runs in the service's own interpreter: Python 3.8 syntax, standard library at import
time, and nothing of the rest of dbtasks."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path

import pytest
from stacks import require_pyenv_python

WORKER = Path(__file__).resolve().parents[2] / "dbtasks" / "worker"
FILES = sorted(WORKER.glob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_worker_module_keeps_to_python_3_8_syntax(path: Path) -> None:
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_no_worker_module_imports_the_rest_of_dbtasks(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level <= 1, f"{path.name}:{node.lineno} reaches outside the worker package"
            assert not (node.module or "").startswith("dbtasks"), f"{path.name}:{node.lineno} imports dbtasks"
        if isinstance(node, ast.Import):
            assert not any(alias.name.startswith("dbtasks") for alias in node.names), f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("version", ["3.8", "3.13"])
def test_the_package_loads_by_path_in_another_interpreter_without_alembic(version: str) -> None:
    """Every module imports with the standard library alone (Alembic is imported when an operation runs),
    under its private name, with the package's folder kept off sys.path."""
    python = require_pyenv_python(version)
    script = f"""
import importlib, runpy, sys
sys.argv = ["worker", "--probe"]
namespace = runpy.run_path({str(WORKER / "__main__.py")!r}, run_name="probe")
package = namespace["_load_package"]()
for name in {[path.stem for path in FILES if path.stem not in ("__init__", "__main__")]!r}:
    importlib.import_module(package + "." + name)
assert {str(WORKER)!r} not in sys.path
assert not any(name == "dbtasks" or name.startswith("dbtasks.") for name in sys.modules), "dbtasks imported"
print(package, sorted(name for name in sys.modules if name.startswith(package + ".")))
"""
    result = subprocess.run([python, "-I", "-B", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("_dbtasks_worker ["), result.stdout
    assert "_dbtasks_worker.ops" in result.stdout and "_dbtasks_worker.verify_checks" in result.stdout


# Each driver's compiled module, as a process that imported the driver has it in its memory map.
COMPILED = {
    "psycopg2": "/site-packages/psycopg2/_psycopg",
    "asyncpg": "/site-packages/asyncpg/protocol/",
    "psycopg": "/site-packages/psycopg_binary/",
}


@pytest.mark.parametrize(("drivers", "imported"), [((), set()), (("asyncpg",), {"asyncpg"}), (("psycopg",), {"psycopg"})])
def test_a_fork_server_imports_the_drivers_it_is_started_for(drivers: tuple[str, ...], imported: set[str]) -> None:
    """psycopg2 always, with Alembic and SQLAlchemy; asyncpg and psycopg 3 only for a run whose services use them."""
    import sys

    from dbtasks.run.forkserver import ForkServer
    from dbtasks.run.runner import WORKER

    server = ForkServer.spawn(sys.executable, WORKER, drivers)
    assert server is not None and server.ready()
    try:
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    finally:
        server.close()
    assert {driver for driver, path in COMPILED.items() if path in maps} == {"psycopg2", *imported}


@pytest.fixture
def own_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's own registry of fork servers (the session's server for this interpreter stays as it is)."""
    from dbtasks.run import forkserver

    monkeypatch.setattr(forkserver, "_servers", {})


@pytest.mark.usefixtures("own_servers")
def test_a_warmed_fork_server_is_handed_out_once_ready_and_ends_with_its_lifeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm() starts the server and returns before its imports are done; server_for waits for them and hands out the
    same server; when its lifeline closes it exits with 0 at once, its atexit functions run (a profiler's dump)."""
    import sys

    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    (tmp_path / "sitecustomize.py").write_text(  # an atexit function, and a thread an interpreter's shutdown would join
        f"import atexit\natexit.register(lambda: open({str(tmp_path / 'exited')!r}, 'w').write('atexit ran'))\n"
        "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,)).start()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    forkserver.warm(sys.executable, WORKER)
    warmed = forkserver._servers[sys.executable]
    assert warmed is not None and warmed.process.poll() is None
    assert warmed._ready is None  # not waited for
    assert forkserver.server_for(sys.executable, WORKER, start=True) is warmed
    assert warmed._ready is True
    assert "/site-packages/psycopg2/_psycopg" in Path(f"/proc/{warmed.process.pid}/maps").read_text()
    warmed.close()  # a server that went through the interpreter's shutdown would still be joining that thread (killed)
    assert warmed.process.returncode == 0
    assert (tmp_path / "exited").read_text() == "atexit ran"


def test_a_forked_child_collects_its_own_garbage(tmp_path: Path) -> None:
    """The server never collects (what its children share is frozen): the child it forks turns the collector on again,
    as any interpreter has it, before it runs its request (here, a function that reports it by its exit code)."""
    import gc
    import os

    from dbtasks.worker import serve

    pipes = [os.pipe() for _ in range(3)]  # the child's stdin, its stdout, its result
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        pid = os.fork()
        if pid == 0:
            serve._child(
                {"cwd": str(tmp_path), "env": {}},
                [pipes[0][0], pipes[1][1], pipes[2][1]],
                [],
                lambda request: 0 if gc.isenabled() and os.getcwd() == str(tmp_path) else 3,
            )
    finally:
        if was_enabled:
            gc.enable()
    for read, write in pipes:
        os.close(read)
        os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_the_core_count_comes_from_the_machine_where_there_is_no_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no os.sched_getaffinity: the early start counts the machine's cores there."""
    import os

    from dbtasks.run import forkserver

    monkeypatch.delattr(os, "sched_getaffinity")
    assert forkserver._cores() == (os.cpu_count() or 1)


@pytest.mark.usefixtures("own_servers")
def test_drivers_named_after_the_start_are_imported_before_ready_or_else_while_idle() -> None:
    """A server warmed before the project was loaded learns its drivers later: sent before it is ready, they are
    imported before it says so; sent after, while it waits for requests."""
    import sys

    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    forkserver.warm(sys.executable, WORKER)
    forkserver.warm(sys.executable, WORKER, ("asyncpg",))  # the project is loaded: its drivers
    server = forkserver.server_for(sys.executable, WORKER, start=True)
    assert server is not None and server.drivers == {"asyncpg"}
    try:
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
        assert {driver for driver, path in COMPILED.items() if path in maps} == {"psycopg2", "asyncpg"}
        forkserver.warm(sys.executable, WORKER, ("asyncpg", "psycopg"))  # ready now: psycopg 3 while idle
        for _ in range(600):
            if COMPILED["psycopg"] in Path(f"/proc/{server.process.pid}/maps").read_text():
                break
            time.sleep(0.05)
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
        assert {driver for driver, path in COMPILED.items() if path in maps} == {"psycopg2", "asyncpg", "psycopg"}
    finally:
        server.close()


def test_an_early_start_is_for_this_interpreter_and_only_with_the_fork_server_on(
    own_servers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm_early (a task that starts a worker per service, before its project loads) starts this interpreter's
    server, not waiting for it; DBTASKS_FORKSERVER=0 starts none, nor does a process that may use one core only."""
    import os
    import sys

    from dbtasks.run import forkserver

    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        pytest.skip(f"this process may use {len(cores)} core: an early start needs two (a second core for its imports)")
    monkeypatch.setenv("DBTASKS_FORKSERVER", "0")
    forkserver.warm_early()
    assert forkserver._servers == {}
    monkeypatch.delenv("DBTASKS_FORKSERVER")
    os.sched_setaffinity(0, {min(cores)})
    try:
        forkserver.warm_early()
    finally:
        os.sched_setaffinity(0, cores)
    assert forkserver._servers == {}
    forkserver.warm_early()
    server = forkserver._servers[sys.executable]
    assert server is not None and server.process.poll() is None and server.drivers == set()
    server.close()


@pytest.mark.usefixtures("own_servers")
def test_a_warmed_fork_server_the_run_never_used_is_killed_not_awaited() -> None:
    """A run that fails before its first worker (a database missing, say) leaves a server still importing: it has
    forked nothing, and is killed rather than waited for."""
    import signal
    import sys

    from dbtasks.run import forkserver
    from dbtasks.run.runner import WORKER

    forkserver.warm(sys.executable, WORKER)
    warmed = forkserver._servers[sys.executable]
    assert warmed is not None
    warmed.close()
    assert warmed.process.returncode == -signal.SIGKILL


def test_a_task_that_starts_a_worker_per_service_starts_its_server_before_the_project_loads(
    own_servers: None, project: Path
) -> None:
    """check-all (marked warm) starts this interpreter's fork server as it begins, before migrations.yaml is read:
    here that file is broken, so the run ends at once, the server started and never told the project's drivers.
    status (not marked) starts none."""
    import sys

    from _support import inv

    from dbtasks.run import forkserver

    (project / "migrations.yaml").write_text("version: 1\nservices: [\n", encoding="utf-8")
    status = inv(project, "db.status")
    assert status.returncode == 2, status.stderr
    assert forkserver._servers == {}
    checked = inv(project, "db.check-all")
    assert checked.returncode == 2, checked.stderr
    assert checked.stderr.splitlines()[0].startswith("migrations.yaml")
    server = forkserver._servers[sys.executable]
    assert server is not None and server.drivers == set()
    server.close()


def test_the_tasks_that_start_the_server_early() -> None:
    """Those that start a worker per service in most runs (upgrade-all: most no-ops are replayed before)."""
    from dbtasks.cli.registry import descriptions

    assert sorted(task.name for task in descriptions(Path("migrations.yaml")) if task.warm) == [
        "check-all",
        "doctor",
        "sql-all",
        "upgrade-all",
        "verify-all",
    ]
