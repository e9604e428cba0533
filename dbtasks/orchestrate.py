"""Run one per-service operation over many services: dependency order, parallel jobs, keep-going."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config.project import Project, Service, closest
from .errors import DbtasksError, RunFailed, UsageError
from .plan import prerequisites


@dataclass(frozen=True)
class Outcome:
    """What happened to one service: state is ok, failed or skipped."""

    service: str
    state: str
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True)
class Report:
    """What a run over several services did: one Outcome each, and the verdict when any failed."""

    outcomes: list[Outcome]
    failure: str | None = None  # one line: what failed (in the core's words: it draws no table)
    entries: list[dict[str, Any]] = field(default_factory=list)  # per-service documents (status rows, check results)
    shown: str = "the table"  # what a command line shows of the outcomes, for its verdict to point at ("see ... above")

    @property
    def ok(self) -> bool:
        return self.failure is None

    def raise_for_failure(self) -> None:
        if self.failure is not None:
            raise RunFailed(self.failure)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Selection:
    """Which services a run covers and how: --only/--exclude, --jobs and --fail-fast."""

    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    jobs: int = field(default_factory=default_jobs)
    fail_fast: bool = False

    def names(self, project: Project) -> list[str]:
        """The chosen services in declaration order; every name given must exist."""
        unknown = [name for name in (*self.only, *self.exclude) if name not in project.services]
        if len(unknown) == 1:
            project.service(unknown[0])  # raises the unknown-service error with a suggestion
        elif unknown:
            hints = [
                f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                for name in unknown
                for close in [closest(name, list(project.services))]
            ]
            raise UsageError(f"unknown services {', '.join(hints)}; known: {', '.join(project.services)}")
        chosen = set(self.only or project.services)
        names = [name for name in project.services if name in chosen and name not in self.exclude]
        if not names:
            raise UsageError("no service selected; check --only and --exclude")
        return names


def run_all(
    project: Project,
    names: list[str],
    action: Callable[[Service], Mapping[str, Any]],
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    reverse: bool = False,
    ordered: bool = True,
    describe: Callable[[Mapping[str, Any]], str] = lambda data: "",
    inline: bool = False,
    waits_for: Mapping[str, Iterable[str]] | None = None,
) -> list[Outcome]:
    """Run `action` on each named service once its prerequisites are done.

    Prerequisites are the selected services it depends on (or, with `reverse`, the selected services
    that depend on it). A service whose prerequisite failed or was skipped is skipped; with
    `fail_fast`, nothing new starts after the first failure. With `ordered=False` (read-only work)
    services are independent. Results come back in `names` order. With `inline` (no action starts a worker: every
    one is quick), the actions run one after the other in this thread, with no thread pool to start. `waits_for`
    (a Plan's) replaces the prerequisites when given.
    """
    if waits_for is None:  # a plan (Session.plan) says it; else the selected services' depends_on
        waits_for = prerequisites(project, names, reverse) if ordered else {name: () for name in names}
    outcomes: dict[str, Outcome] = {}
    stop, reason = False, "not started: --fail-fast after a failure"

    def execute(name: str) -> Outcome:
        try:
            data = action(project.services[name])
        except DbtasksError as error:
            return Outcome(name, "failed", str(error).removeprefix(f"{name}: "))
        return Outcome(name, "ok", describe(data), data)

    jobs = 1 if inline else max(1, jobs)
    with _Inline() if inline else _Threads(jobs) as pool:
        running: dict[Any, str] = {}
        pending = list(names)
        while pending or running:
            for name in list(pending):
                blockers = [dep for dep in waits_for[name] if dep in outcomes and not outcomes[dep].ok]
                if stop:
                    outcomes[name] = Outcome(name, "skipped", reason)
                elif blockers:
                    outcomes[name] = Outcome(name, "skipped", f"skipped: {blockers[0]} {outcomes[blockers[0]].state}")
                elif len(running) >= jobs:
                    continue  # submit no more than `jobs`: queued work could not be held back by --fail-fast
                elif all(dep in outcomes for dep in waits_for[name]):
                    running[pool.submit(execute, name)] = name
                else:
                    continue
                pending.remove(name)
            if not running:
                continue
            try:
                done = pool.first_done(list(running))
            except KeyboardInterrupt:  # start nothing new; the running workers roll back and report
                stop, reason = True, "not started: interrupted"
                continue
            for future in done:
                outcome = future.result()
                outcomes[running.pop(future)] = outcome
                if not outcome.ok and fail_fast:
                    stop = True
    return [outcomes[name] for name in names]


class _Threads:
    """The pool of a run that may start workers: `jobs` threads, each waiting on its worker."""

    def __init__(self, jobs: int) -> None:
        from concurrent.futures import ThreadPoolExecutor  # with logging and queue: only for a run with workers

        self.executor = ThreadPoolExecutor(max_workers=jobs)

    def __enter__(self) -> _Threads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True)

    def submit(self, execute: Callable[[str], Outcome], name: str) -> Any:
        return self.executor.submit(execute, name)

    @staticmethod
    def first_done(running: list[Any]) -> Any:
        from concurrent.futures import FIRST_COMPLETED, wait

        return wait(running, return_when=FIRST_COMPLETED)[0]


class _Inline:
    """The pool of a run that starts no worker: each action runs when it is submitted, in this thread."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def submit(execute: Callable[[str], Outcome], name: str) -> _Done:
        return _Done(execute(name))

    @staticmethod
    def first_done(running: list[Any]) -> list[Any]:
        return running


class _Done:
    """An inline action's outcome, as a finished future gives it."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def result(self) -> Outcome:
        return self.outcome
