"""The scenarios: for each, the original way (BASELINE: the `alembic` command in each service folder in
turn) and ours (`inv db.*` or `dbtasks *` in the generated project), and how each run proves it did the work."""

from __future__ import annotations

from .database import BenchmarkError, require_at_head
from .measure import Completed
from .runner import Bench, Check, Scenario, Side, no_check
from .synthetic import SyntheticProject

# Ratio ours/baseline each scenario must stay under, by the issue that set it; scenarios without one are
# reported only. Issue 14 also bounds verify's marginal cost per revision (report.py).
TARGETS_BY_ISSUE = {
    5: {"noop-upgrade": 0.15, "fresh-upgrade": 0.6, "check": 0.6, "list": 0.5, "status-large": 0.05},
    14: {"noop-direct": 0.03, "status-direct": 0.03, "current-one": 0.6, "noop-large": 0.01},
    25: {"noop-direct": 0.015, "status-direct": 0.015, "fresh-upgrade": 0.3, "check": 0.3, "current-one": 0.3},
}
TARGETS = {name: limit for targets in TARGETS_BY_ISSUE.values() for name, limit in targets.items()}  # the latest wins
# Issue 25: seconds our side's median may take, whatever the baseline's (which is reported beside it).
SECONDS_TARGETS = {"verify": 3.0, "doctor": 1.5}
MAIN = (
    "fresh-upgrade", "noop-upgrade", "check", "status", "verify", "list", "noop-direct", "status-direct", "current-one",
    "doctor", "floor",
)  # fmt: skip
LARGE = ("status-large", "noop-large", "verify-scaling", "fresh-large")
# Issue 25: the peak summed RSS of our process tree over the baseline's, for a fresh upgrade-all of 200 services.
MEMORY_TARGETS = {"fresh-large": 1.5}

# One catalog query through the client the fast path uses, on a connection of its own: the no-op's floor.
ONE_QUERY = (
    "import os\nfrom dbtasks.database import pg\nfrom dbtasks.worker.libpq import libpq\n"
    "with pg.connect(libpq(os.environ['DATABASE_URL'])) as c:\n    c.rows('SELECT 1 FROM pg_namespace LIMIT 1')"
)

# The closest manual equivalent of `inv db.verify`: the original test plan per service (phase 1 upgrade,
# phase 2 idempotency), plus the rollback and re-apply the plan leaves out, on a fresh database.
MANUAL_VERIFY = (("upgrade", "head"), ("upgrade", "head"), ("downgrade", "base"), ("upgrade", "head"))


def at_head(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    require_at_head(url, project.services, completed[-1].short if completed else "")


def named_at_head(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """At head afterwards, and the output names every service (it looked at each one)."""
    _require_shown(completed, {s.name: s.name for s in project.services}, "the name of")
    require_at_head(url, project.services, completed[-1].short)


def heads_named(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """Status output must name every service's head revision (it read each one)."""
    _require_shown(completed, {s.name: s.head for s in project.services}, "the head revision of")
    require_at_head(url, project.services, "status")


def first_head_named(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """`current` of the first service must show its head revision."""
    first = project.services[0]
    _require_shown(completed, {first.name: first.head}, "the head revision of")
    require_at_head(url, [first], "current")


def _require_shown(completed: list[Completed], expected: dict[str, str], what: str) -> None:
    """Every text of `expected` (service name -> what the output must show for it) is in the output."""
    output = "\n".join(c.stdout for c in completed)
    missing = [name for name, text in expected.items() if text not in output]
    if missing:
        raise BenchmarkError(f"the output of {completed[0].short} does not show {what} {', '.join(missing)}:\n{output[-2000:]}")


def services_named(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """Verify output must report on every service, and leave no scratch database behind."""
    output = "\n".join(c.stdout for c in completed)
    missing = [s.name for s in project.services if s.name not in output]
    if missing:
        raise BenchmarkError(f"verify output does not mention {', '.join(missing)}:\n{output[-2000:]}")
    leftovers = bench.server.databases_matching("^svc[0-9]+_verify_")  # dbtasks names them <service>_verify_<random>
    if leftovers:
        bench.note(f"verify left scratch databases behind: {', '.join(leftovers)}")


def diagnosed(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
    """Doctor's table names every service at head and holds no error."""
    lines = "\n".join(c.stdout for c in completed).splitlines()
    errors = [line for line in lines if line.startswith("error")]
    missing = [
        s.name for s in project.services if not any(s.name in line.split() and "database at head" in line for line in lines)
    ]
    if errors or missing:
        raise BenchmarkError(f"doctor found errors or left out {', '.join(missing)}:\n" + "\n".join(errors[:10]))


def mentions(text: str) -> Check:
    def check(bench: Bench, project: SyntheticProject, url: str, completed: list[Completed]) -> None:
        if not any(text in c.stdout for c in completed):
            raise BenchmarkError(f"expected {text!r} in the output of {completed[0].short}")

    return check


UPGRADE_LOOP = Side(
    "`alembic upgrade head` per service folder", lambda b, p, url: b.alembic_loop(p, url, ["upgrade", "head"]), at_head
)
CURRENT_LOOP = Side("`alembic current` per service folder", lambda b, p, url: b.alembic_loop(p, url, ["current"]), heads_named)


def _inv(task: str, check: Check, fresh: bool = False) -> Side:
    """Our side: `inv db.TASK` in the project's root."""
    return Side(f"`inv db.{task}`", lambda b, p, url: b.inv(p, url, f"db.{task}"), check, fresh=fresh)


def build(name: str, service: str = "") -> Scenario:
    """The scenario called `name` (status-large is status on the large project; verify-scaling runs
    `inv db.verify <service>` against the manual loop for that single service; current-one asks
    `current` of `service`, the project's first)."""
    if name in ("noop-direct", "status-direct", "current-one", "noop-large"):
        return _speed(name, service)
    upgrade_loop = UPGRADE_LOOP
    manual_verify = Side(
        "per service folder on a fresh database: `alembic upgrade head`, `upgrade head` again, `downgrade base`, `upgrade head`",
        lambda b, p, url: b.alembic_loop(p, url, *(list(step) for step in MANUAL_VERIFY)),
        at_head,
        fresh=True,
    )
    if name in ("fresh-upgrade", "fresh-large"):
        return Scenario(
            name,
            "empty database to head",
            Side(upgrade_loop.label, upgrade_loop.commands, at_head, fresh=True),
            _inv("upgrade-all", at_head, fresh=True),
        )
    if name == "noop-upgrade":
        return Scenario(
            name,
            "every service already at head",
            upgrade_loop,
            _inv("upgrade-all", at_head),
        )
    if name == "check":
        return Scenario(
            name,
            "database at head: one head, at head, models match",
            Side("`alembic check` per service folder", lambda b, p, url: b.alembic_loop(p, url, ["check"]), at_head),
            _inv("check-all", at_head),
        )
    if name in ("status", "status-large"):
        return Scenario(
            name,
            "database at head: every service's current revision",
            CURRENT_LOOP,
            _inv("status", heads_named),
        )
    if name == "verify":
        return Scenario(
            name,
            "the test plan for every service",
            manual_verify,
            _inv("verify-all", services_named),
        )
    if name == "verify-scaling":
        return Scenario(
            name,
            "the test plan for one service",
            manual_verify,
            Side(f"`inv db.verify {service}`", lambda b, p, url: b.inv(p, url, "db.verify", service), services_named),
        )
    if name == "doctor":
        return Scenario(
            name,
            "database at head: diagnose the setup (baseline: the loop's time to reach each service)",
            CURRENT_LOOP,
            _inv("doctor", diagnosed),
        )
    if name == "floor":
        return Scenario(
            name,
            "the floor of a no-op: an interpreter's start, then one with one catalog query (libpq, as the fast path)",
            Side("`python -c pass`", lambda b, p, url: [b.execute([str(b.python), "-c", "pass"], p.root, url)], no_check),
            Side("`python` + one query", lambda b, p, url: [b.execute([str(b.python), "-c", ONE_QUERY], p.root, url)], no_check),
        )
    if name == "list":
        return Scenario(
            name,
            "list the commands",
            Side(
                "`alembic --help` (in the first service folder)",
                lambda b, p, url: [b.execute([str(b.alembic), "--help"], p.services[0].folder, url)],
                mentions("upgrade"),
            ),
            Side("`inv --list`", lambda b, p, url: b.inv(p, url, "--list"), mentions("db.upgrade-all")),
        )
    raise ValueError(f"unknown scenario {name!r}")


def _speed(name: str, service: str) -> Scenario:
    """The scenarios of issue 14: the `dbtasks` command (no Invoke), one service's `current`, a large no-op."""
    upgrade_all = Side("`dbtasks upgrade-all`", lambda b, p, url: b.dbtasks(p, url, "upgrade-all"), named_at_head)
    if name in ("noop-direct", "noop-large"):
        also = _inv("upgrade-all", named_at_head)
        variants = (("noop-large-inv", also),) if name == "noop-large" else ()
        return Scenario(name, "every service already at head", UPGRADE_LOOP, upgrade_all, variants)
    if name == "status-direct":
        return Scenario(
            name,
            "database at head: every service's current revision",
            CURRENT_LOOP,
            Side("`dbtasks status`", lambda b, p, url: b.dbtasks(p, url, "status"), heads_named),
        )
    if name == "current-one":
        return Scenario(
            name,
            "database at head: one service's current revision",
            Side(
                f"`alembic current` in {service}'s folder",
                lambda b, p, url: [b.execute([str(b.alembic), "current"], p.services[0].folder, url)],
                first_head_named,
            ),
            Side(f"`inv db.current {service}`", lambda b, p, url: b.inv(p, url, "db.current", service), first_head_named),
            (
                (
                    "current-one-direct",
                    Side(
                        f"`dbtasks current {service}`", lambda b, p, url: b.dbtasks(p, url, "current", service), first_head_named
                    ),
                ),
                # Invoke's own start (no tasks.py loaded): the part of `inv db.current` that is not ours
                ("current-one-invoke", Side("`inv --version`", lambda b, p, url: b.inv(p, url, "--version"), no_check)),
            ),
        )
    raise ValueError(f"unknown scenario {name!r}")


def prepare_at_head(bench: Bench, project: SyntheticProject, label: str) -> str:
    """A database with every service at head, made the original way (so no side prepares its own ground)."""
    url = bench.server.create(label)
    completed = bench.alembic_loop(project, url, ["upgrade", "head"])
    require_at_head(url, project.services, f"preparing {label}")
    seconds = sum(c.measurement.seconds for c in completed)
    bench.echo(f"{label}: {len(project.services)} services upgraded to head with the alembic loop in {seconds:.1f} s")
    return url
