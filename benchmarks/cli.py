"""`python -m benchmarks`: generate a synthetic monorepo, start a PostgreSQL, measure the original loop of
`alembic` commands against `inv db.*` side by side, print the results and write the reports."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psycopg2

from dbtasks.database.localdb import LocalDatabase
from dbtasks.errors import DbtasksError

from . import fleet, profiling, report
from .database import BenchmarkError, Server, mask
from .runner import Bench, Result, measure_scenario
from .scenarios import LARGE, MAIN, build, prepare_at_head
from .synthetic import SyntheticProject, generate

NEEDS_HEAD = {"noop-upgrade", "check", "status", "verify", "noop-direct", "status-direct", "current-one", "doctor", *LARGE}
# Services x migrations of each large scenario unless --large-services / --large-migrations say otherwise.
LARGE_SIZES = {"status-large": (60, 30), "noop-large": (200, 20), "fresh-large": (200, 20)}
EVERY = (*MAIN, *LARGE, *fleet.SCENARIOS)
PROFILED = (*MAIN, "status-large", "noop-large")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark dbtasks (`inv db.*`, `dbtasks *`) against the original loop of `alembic` commands, side by side. "
        "Run from the repository root with its venv: .venv/bin/python -m benchmarks",
    )
    size = parser.add_argument_group("size")
    size.add_argument("--services", type=int, default=6, help="synthetic services (default: 6)")
    size.add_argument("--migrations", type=int, default=5, help="migrations per service (default: 5)")
    size.add_argument("--runs", type=int, default=5, help="timed runs per side and scenario; the median is reported (default: 5)")
    size.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (bytecode caches; default: 1)")
    choice = parser.add_argument_group("scenarios")
    choice.add_argument(
        "--scenarios",
        default="",
        help=f"comma-separated, from {', '.join(EVERY)}, or 'all' (default: {','.join(MAIN)})",
    )
    choice.add_argument(
        "--fleet-targets", type=int, default=200, help="databases in the fleet of the fleet-* scenarios (default: 200)"
    )
    choice.add_argument("--status-scale", action="store_true", help="also run status-large (same as adding it to --scenarios)")
    choice.add_argument(
        "--large-services", type=int, help="services of status-large and noop-large (default: 60 and 200 respectively)"
    )
    choice.add_argument(
        "--large-migrations",
        type=int,
        help="migrations per service of status-large and noop-large (default: 30 and 20 respectively)",
    )
    choice.add_argument(
        "--large-runs", type=int, default=3, help="timed runs of status-large, noop-large and verify-scaling (default: 3)"
    )
    choice.add_argument("--scaling-revisions", default="10,30,100", help="revision counts of verify-scaling (default: 10,30,100)")
    where = parser.add_argument_group("database and output")
    where.add_argument("--database-url", help="use this server (the user needs CREATEDB) instead of starting an embedded one")
    where.add_argument("--output", help="write the results as JSON to this file")
    where.add_argument("--markdown", help="write a Markdown report (machine, command, tables, targets) to this file")
    where.add_argument(
        "--profile", metavar="SCENARIO", help="run ours once under cProfile for SCENARIO and print the top entries"
    )
    where.add_argument("--profile-top", type=int, default=30, help="entries the profile shows (default: 30)")
    where.add_argument("--workdir", help="folder for the temporary project and server (default: the system's temp folder)")
    where.add_argument("--keep", action="store_true", help="keep the temporary folder (generated projects) afterwards")
    where.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module from source in every command (PYTHONDONTWRITEBYTECODE=1); default: caches in the "
        "temporary folder (PYTHONPYCACHEPREFIX), filled by the warm-up runs",
    )
    where.add_argument("--sample-interval", type=float, default=0.02, help="seconds between memory samples (default: 0.02)")
    where.add_argument("--timeout", type=float, default=3600.0, help="seconds before a single command is killed (default: 3600)")
    args = parser.parse_args(argv)
    args.chosen = _scenarios(parser, args)
    sizes = (
        args.services,
        args.migrations,
        args.runs,
        args.large_services,
        args.large_migrations,
        args.large_runs,
        args.fleet_targets,
    )
    if min(size for size in sizes if size is not None) < 1:
        parser.error("--services, --migrations, --runs and the --large-* sizes must be at least 1")
    try:
        args.revisions = sorted({int(part) for part in args.scaling_revisions.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--scaling-revisions: expected numbers like 10,30,100, got {args.scaling_revisions!r}")
    if args.profile and args.profile not in PROFILED:
        parser.error(f"--profile: expected one of {', '.join(PROFILED)}, got {args.profile!r}")
    return args


def _scenarios(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The scenarios to measure, in a fixed order; with --profile alone, none."""
    text = args.scenarios.strip()
    if text == "all":
        wanted = list(EVERY)
    elif text:
        wanted = [part.strip() for part in text.split(",") if part.strip()]
    else:
        wanted = [] if args.profile and not args.status_scale else list(MAIN)
    if args.status_scale:
        wanted.append("status-large")
    unknown = [name for name in wanted if name not in EVERY]
    if unknown:
        parser.error(f"--scenarios: unknown {', '.join(unknown)}; choose from {', '.join(EVERY)}")
    return [name for name in EVERY if name in wanted]


@dataclass
class Workspace:
    """The generated projects and their databases at head, made when first needed."""

    bench: Bench
    folder: Path
    args: argparse.Namespace
    projects: dict[str, tuple[SyntheticProject, str]] = field(default_factory=dict)
    fleet_rows: list[fleet.Row] = field(default_factory=list)

    def project(self, kind: str, services: int, migrations: int, at_head: bool) -> tuple[SyntheticProject, str]:
        if kind not in self.projects:
            made = generate(self.folder / kind, services, migrations)
            self.bench.echo(f"generated {kind}: {services} service(s) x {migrations} migration(s) in {made.root}")
            self.projects[kind] = (made, "")
        made, url = self.projects[kind]
        if at_head and not url:
            url = prepare_at_head(self.bench, made, f"{kind}_at_head")
            self.projects[kind] = (made, url)
        return made, url or self.bench.server.admin_url

    def for_scenario(self, name: str) -> tuple[SyntheticProject, str]:
        if name in LARGE_SIZES:  # two large scenarios of the same size share the project and its database
            services = self.args.large_services or LARGE_SIZES[name][0]
            migrations = self.args.large_migrations or LARGE_SIZES[name][1]
            return self.project(f"large-{services}x{migrations}", services, migrations, name != "fresh-large")
        return self.project("main", self.args.services, self.args.migrations, name in NEEDS_HEAD)


def measure_all(work: Workspace) -> list[Result]:
    bench, args = work.bench, work.args
    results = []
    for name in args.chosen:
        if name in fleet.SCENARIOS:  # one run per side: the loop over 200 databases takes minutes
            project, at_head = work.project("fleet", args.services, args.migrations, True)
            if "fleet:" not in (project.root / "migrations.yaml").read_text(encoding="utf-8"):
                fleet.declare_fleet(project)
            empty = bench.server.create("fleet_empty") if name == "fleet-fresh" else ""
            work.fleet_rows.append(fleet.scenario(bench, project, name, args.fleet_targets, empty or at_head))
            if empty:
                bench.server.drop(empty)
            continue
        if name == "verify-scaling":
            for count in args.revisions:
                project, url = work.project(f"scaling-{count}", 1, count, False)
                results += measure_scenario(bench, build(name, project.services[0].name), project, url, args.large_runs)
            continue
        project, url = work.for_scenario(name)
        runs = args.large_runs if name in LARGE_SIZES else args.runs
        results += measure_scenario(bench, build(name, project.services[0].name), project, url, runs)
    return results


def profile_scenario(work: Workspace, name: str) -> str:
    project, url = work.for_scenario(name)
    return profiling.profile(work.bench, name, project, url, work.folder / "profile", work.args.profile_top)


def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces this run, password masked."""
    shown = []
    for part in argv:
        option, equals, value = part.partition("=") if part.startswith("--") else ("", "", part)
        shown.append(option + equals + (mask(value) if "://" in value else value))
    return shlex.join([".venv/bin/python", "-m", "benchmarks", *shown])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse(arguments)
    python = Path(sys.executable)
    for script in ("alembic", "dbtasks"):
        if not (python.parent / script).is_file():
            print(
                f"benchmark: no `{script}` next to {python}; run it with the repository's venv, where the project is "
                "installed: .venv/bin/python -m benchmarks"
            )
            return 2
    signal.signal(signal.SIGTERM, _interrupt)  # a killed benchmark still stops its server
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="dbtasks-bench-", dir=args.workdir))
    server: Server | None = None
    try:
        server = Server.start(folder / "pg", args.database_url)
        pycache = None if args.no_bytecode_cache else folder / "pycache"
        bench = Bench(server, python, args.warmup, args.sample_interval, args.timeout, pycache=pycache)
        work = Workspace(bench, folder, args)
        about = report.machine(server.version(), "--database-url" if args.database_url else "embedded, fsync off")
        about["Bytecode caches"] = (
            "none: every module compiled in every process (--no-bytecode-cache)"
            if pycache is None
            else "kept across runs in the temporary folder (PYTHONPYCACHEPREFIX), filled by the warm-up"
        )
        results = measure_all(work)
        profiles = {args.profile: profile_scenario(work, args.profile)} if args.profile else {}
        about["Load average at end"] = report.load_average()
        _publish(args, results, about, command_line(arguments), bench.notes, profiles, work.fleet_rows)
        return 0
    except (BenchmarkError, DbtasksError, psycopg2.Error) as error:  # the server's own errors name no password
        print(f"benchmark failed: {str(error).strip()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchmark interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        _clean_up(server, folder, args)


def _publish(
    args: argparse.Namespace,
    results: list[Result],
    about: dict[str, str],
    command: str,
    notes: list[str],
    profiles: dict[str, str],
    fleet_rows: list[fleet.Row],
) -> None:
    if results:
        print(report.text_table(results))
        print()
        print(report.text_verdicts(report.verdicts(results)))
    fleet_table = fleet.table(fleet_rows, args.fleet_targets, args.services) if fleet_rows else ""
    if fleet_table:
        print(fleet_table)
    for note in notes:
        print(f"note: {note}")
    for name, text in profiles.items():
        print(f"\nprofile of {name}:\n{text}")
    if args.markdown:
        text = report.markdown(results, about, command, notes, profiles)
        if fleet_table:
            text += f"\n## Fleets (one run per side)\n\n{fleet_table}\n"
        Path(args.markdown).write_text(text)
        print(f"wrote {args.markdown}")
    if args.output:
        document = json.loads(report.as_json(results, about, command, notes))
        document["fleet"] = [row.as_dict() for row in fleet_rows]
        Path(args.output).write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.output}")


def _clean_up(server: Server | None, folder: Path, args: argparse.Namespace) -> None:
    try:
        if server is not None:
            server.close()
        elif not args.database_url:  # interrupted while it started: stop it if it got that far
            LocalDatabase(folder / "pg", fsync=False).stop()
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
