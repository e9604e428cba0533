"""run_all and Selection with plain functions as the per-service action: order, skips, fail-fast, interrupts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dbtasks.config.project import Project, Service
from dbtasks.errors import ServiceError, UsageError
from dbtasks.orchestrate import Outcome, Selection, run_all
from dbtasks.verbs_all import finished


def project(**depends_on: list[str]) -> Project:
    """A project whose services (in this order) depend on the named ones; nothing on disk is read."""
    services = {
        name: Service(
            name, Path("/nowhere") / name, name, "psycopg2", Path("/nowhere/alembic.ini"), "DATABASE_URL", depends_on=tuple(deps)
        )
        for name, deps in depends_on.items()
    }
    return Project(Path("/nowhere/migrations.yaml"), "DATABASE_URL", services)


class Recorder:
    """An action that records start and end order, and fails for the services named in `failing`."""

    def __init__(self, failing: tuple[str, ...] = (), pause: float = 0.0) -> None:
        self.started: list[str] = []
        self.ended: list[str] = []
        self.failing = failing
        self.pause = pause
        self.lock = threading.Lock()

    def __call__(self, service: Service) -> Mapping[str, Any]:
        with self.lock:
            self.started.append(service.name)
        time.sleep(self.pause)
        with self.lock:
            self.ended.append(service.name)
        if service.name in self.failing:
            raise ServiceError(service.name, "broken on purpose")
        return {"name": service.name}


CHAIN = {"users": [], "habits": ["users"], "practices": ["users", "habits"], "movements": []}


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_dependencies_run_first_and_results_come_back_in_declaration_order(jobs: int) -> None:
    action = Recorder(pause=0.01)
    outcomes = run_all(project(**CHAIN), list(CHAIN), action, jobs=jobs, describe=lambda data: f"did {data['name']}")
    assert [o.service for o in outcomes] == list(CHAIN)
    assert all(o.state == "ok" and o.detail == f"did {o.service}" for o in outcomes)
    assert action.ended.index("users") < action.started.index("habits") < action.started.index("practices")
    assert action.ended.index("habits") < action.started.index("practices")


def test_an_inline_run_keeps_the_order_and_the_skips_in_this_thread() -> None:
    """A run that starts no worker (everything at head) needs no thread pool: same order, same skips, one thread."""
    threads: list[int] = []
    action = Recorder(failing=("users",))

    def recorded(service: Service) -> Mapping[str, Any]:
        threads.append(threading.get_ident())
        return action(service)

    later_first = {"habits": ["users"], "movements": [], "users": []}  # a dependency declared after its dependent
    outcomes = run_all(project(**later_first), list(later_first), recorded, jobs=4, inline=True)
    assert [(o.service, o.state) for o in outcomes] == [("habits", "skipped"), ("movements", "ok"), ("users", "failed")]
    assert action.started == ["movements", "users"] and threads == [threading.get_ident()] * 2
    action = Recorder()
    outcomes = run_all(project(**later_first), list(later_first), action, inline=True)
    assert action.started == ["movements", "users", "habits"] and all(o.ok for o in outcomes)


def test_reverse_runs_dependents_first() -> None:
    action = Recorder()
    run_all(project(**CHAIN), list(CHAIN), action, jobs=3, reverse=True)
    assert action.ended.index("practices") < action.started.index("habits") < action.started.index("users")


def test_a_failure_skips_its_dependents_and_the_others_go_on() -> None:
    action = Recorder(failing=("users",))
    outcomes = {o.service: o for o in run_all(project(**CHAIN), list(CHAIN), action, jobs=1)}
    assert outcomes["users"] == Outcome("users", "failed", "broken on purpose")
    assert outcomes["habits"].state == "skipped" and outcomes["habits"].detail == "skipped: users failed"
    assert outcomes["practices"].state == "skipped"
    assert outcomes["movements"].state == "ok"
    assert action.started == ["users", "movements"]


def test_fail_fast_starts_nothing_after_a_failure() -> None:
    action = Recorder(failing=("users",))
    names = ["users", "movements"]
    outcomes = run_all(project(users=[], movements=[]), names, action, jobs=1, fail_fast=True)
    assert [o.state for o in outcomes] == ["failed", "skipped"]
    assert outcomes[1].detail == "not started: --fail-fast after a failure"
    assert action.started == ["users"]


def test_unordered_runs_ignore_dependencies() -> None:
    action = Recorder(failing=("users",))
    outcomes = run_all(project(**CHAIN), list(CHAIN), action, jobs=2, ordered=False)
    assert [o.state for o in outcomes] == ["failed", "ok", "ok", "ok"]


def test_an_interrupt_lets_the_running_service_finish_and_starts_nothing_new() -> None:
    def action(service: Service) -> Mapping[str, Any]:
        time.sleep(0.2)  # by now the main thread waits for this service
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: KeyboardInterrupt in the main thread
        time.sleep(0.2)  # the running worker finishes (a real one rolls back and reports)
        return {}

    handler = signal.getsignal(signal.SIGINT)
    assert handler is signal.default_int_handler, f"SIGINT's handler in the test process is {handler!r}"
    outcomes = run_all(project(users=[], movements=[], meals=[]), ["users", "movements", "meals"], action, jobs=1)
    assert [(o.state, o.detail) for o in outcomes] == [
        ("ok", ""),
        ("skipped", "not started: interrupted"),
        ("skipped", "not started: interrupted"),
    ]


def test_the_verdict_names_the_failed_services_and_counts_skips() -> None:
    ok, failed, skipped = Outcome("a", "ok"), Outcome("b", "failed", "x"), Outcome("c", "skipped", "skipped: b failed")
    assert finished([ok]).failure is None
    assert finished([ok, failed, skipped]).failure == "failed: b"  # the core draws no table: the CLI points at its own
    assert finished([ok, skipped]).failure == "failed: none"
    with pytest.raises(Exception, match=r"^failed: b$"):
        finished([failed]).raise_for_failure()


def test_selection_keeps_declaration_order_and_names_unknown_services() -> None:
    demo = project(**CHAIN)
    assert Selection().names(demo) == list(CHAIN)
    assert Selection(only=("practices", "users")).names(demo) == ["users", "practices"]
    assert Selection(exclude=("users",)).names(demo) == ["habits", "practices", "movements"]
    with pytest.raises(UsageError, match=r"unknown service 'habit'; did you mean 'habits'\?"):
        Selection(only=("habit",)).names(demo)
    with pytest.raises(UsageError, match="no service selected"):
        Selection(only=("users",), exclude=("users",)).names(demo)
