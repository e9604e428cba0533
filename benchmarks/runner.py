"""The measuring loop: run both sides of a scenario, alternating which goes first, each run on the right
database, each run checked for having done its work before its time counts."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import measure
from .database import BenchmarkError, Server
from .measure import Completed, Measurement, Summary
from .synthetic import SyntheticProject

# Variables that would steer a command away from the database we hand it, or change how Python starts.
CLEARED = (
    "DATABASE_URL",
    "DBTASKS_ENV",
    "DBTASKS_DEBUG",
    "DBTASKS_PG_BIN",
    "PYTHONSTARTUP",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)


@dataclass
class Bench:
    """What every scenario needs: the server, the programs, how to run them, and a place for findings."""

    server: Server
    python: Path
    warmup: int = 1
    interval: float = 0.02
    timeout: float = 3600.0
    invoke: list[str] = field(default_factory=list)  # how `inv` is started; cProfile swaps it
    direct: list[str] = field(default_factory=list)  # how `dbtasks` is started; cProfile swaps it too
    extra_env: dict[str, str] = field(default_factory=dict)  # for every command (the profiler's hook)
    # Where every command's bytecode caches go (a folder of ours, so nothing is written into the repository
    # or the venv); None: no caches at all, every module compiled from source in every process.
    pycache: Path | None = None
    notes: list[str] = field(default_factory=list)
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        if not self.invoke:
            self.invoke = [str(self.python), "-m", "invoke"]
        if not self.direct:
            self.direct = [str(self.dbtasks_script)]

    @property
    def alembic(self) -> Path:
        """The venv's `alembic` console script: the command the original loop runs."""
        return self.python.parent / "alembic"

    @property
    def dbtasks_script(self) -> Path:
        """The venv's `dbtasks` console script: the command a user types (`dbtasks upgrade-all`)."""
        return self.python.parent / "dbtasks"

    def environment(self, url: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in CLEARED}
        if self.pycache is None:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        env.update(self.extra_env)
        env["DATABASE_URL"] = url
        return env

    def execute(self, argv: Sequence[str], cwd: Path, url: str) -> Completed:
        """Run one command; a failure stops the benchmark with the command's output."""
        completed = measure.run(argv, cwd, self.environment(url), timeout=self.timeout, interval=self.interval)
        if completed.returncode != 0 or completed.timed_out:
            raise BenchmarkError(f"a command failed, so the benchmark stops:\n{completed.describe()}")
        if completed.leftovers:
            self.note(f"`{completed.short}` left processes running after it exited (killed by the harness)")
        return completed

    def alembic_loop(self, project: SyntheticProject, url: str, *commands: Sequence[str]) -> list[Completed]:
        """The original loop: in each service folder in turn, each `alembic` command in turn."""
        return [
            self.execute([str(self.alembic), *command], service.folder, url)
            for service in project.services
            for command in commands
        ]

    def inv(self, project: SyntheticProject, url: str, *arguments: str) -> list[Completed]:
        return [self.execute([*self.invoke, *arguments], project.root, url)]

    def dbtasks(self, project: SyntheticProject, url: str, *arguments: str) -> list[Completed]:
        """`dbtasks TASK ...` in the project's root: the same task bodies as `inv db.TASK`, without Invoke."""
        return [self.execute([*self.direct, *arguments], project.root, url)]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            self.echo(f"note: {text}")


Commands = Callable[[Bench, SyntheticProject, str], list[Completed]]
Check = Callable[[Bench, SyntheticProject, str, list[Completed]], None]


def no_check(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """Exit code 0 of every command is the whole proof."""


@dataclass(frozen=True)
class Side:
    """One side of a scenario: what it runs, on which database, and how we know it did the work."""

    label: str  # the commands, as the report shows them
    commands: Commands
    check: Check = no_check
    fresh: bool = False  # each run on a new empty database (else on the shared database at head)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    baseline: Side
    ours: Side
    # More of ours, measured in the same runs against the same baseline (whose minutes are paid once) and
    # reported as their own results, named here: ("noop-large-inv", Side(`inv db.upgrade-all`)).
    variants: tuple[tuple[str, Side], ...] = ()

    def sides(self) -> list[tuple[str, Side]]:
        return [("baseline", self.baseline), (self.name, self.ours), *self.variants]


@dataclass(frozen=True)
class Result:
    scenario: str
    summary: str
    baseline_label: str
    ours_label: str
    services: int
    migrations: int  # per service
    baseline: Summary
    ours: Summary

    @property
    def size(self) -> str:
        return f"{self.services}x{self.migrations}"

    @property
    def ratio(self) -> float:
        return self.ours.median / self.baseline.median if self.baseline.median else float("inf")


def measure_scenario(bench: Bench, scenario: Scenario, project: SyntheticProject, at_head: str, runs: int) -> list[Result]:
    """`runs` timed runs of each side (after `bench.warmup` untimed ones), rotating which side goes first;
    one result for ours and one per variant, each against the same baseline runs."""
    sides = scenario.sides()
    kept: dict[str, list[Measurement]] = {role: [] for role, _ in sides}
    total = bench.warmup + runs
    for index in range(total):
        shift = index % len(sides)  # two sides: alternate; more: each side goes first in turn
        seconds = {}
        for role, side in sides[shift:] + sides[:shift]:
            measurement = run_side(bench, side, project, at_head, scenario.name)
            seconds[role] = measurement.seconds
            if index >= bench.warmup:
                kept[role].append(measurement)
        what = "warm-up" if index < bench.warmup else f"run {index - bench.warmup + 1}/{runs}"
        shown = ", ".join(f"{'ours' if role == scenario.name else role} {seconds[role]:.2f} s" for role, _ in sides)
        bench.echo(f"{scenario.name} {what}: {shown}")
    baseline = Summary.of(kept["baseline"])
    return [
        Result(
            role,
            scenario.summary,
            scenario.baseline.label,
            side.label,
            len(project.services),
            project.migrations,
            baseline,
            Summary.of(kept[role]),
        )
        for role, side in sides[1:]
    ]


def run_side(bench: Bench, side: Side, project: SyntheticProject, at_head: str, name: str) -> Measurement:
    url = bench.server.create(name) if side.fresh else at_head
    try:
        completed = side.commands(bench, project, url)
        side.check(bench, project, url, completed)
    finally:
        if side.fresh:
            bench.server.drop(url)
    return Measurement.combine([c.measurement for c in completed])
