"""The fleet options of status and the *-all tasks (--targets, --target, --shard, --retry-failed, --connections,
--no-progress, and --sample for verify-all): their help and defaults. Given --targets or --target, registry.py runs
the task on a fleet (cli/fleet_tasks.py) instead. Nothing heavy here."""

from __future__ import annotations

from typing import Any

HELP = {
    "targets": "run on every member of this fleet (migrations.yaml's targets:)",
    "target": "run on this one member of the fleet (with --targets, or the only fleet there is)",
    "shard": "I/N: this runner's stable share of the fleet (by a hash of each member's name), or auto (docs/fleets.md)",
    "retry_failed": "a --json report of an earlier fleet run: redo only the targets that failed or did not start",
    "connections": "the most database connections a fleet run holds at once (default: 20)",
    "no_progress": "a plain line per target instead of the live progress line (also when NO_COLOR is set)",
    "sample": "verify on this many members of the fleet (a stable choice; default: all)",
    "json": "with --targets: print the fleet's JSON report (for --retry-failed) instead of its summary",
    "jobs": "how many independent services (with --targets: members) run at once (default: one per CPU)",
}
DEFAULTS: dict[str, Any] = {
    "targets": "",
    "target": "",
    "shard": "",
    "retry_failed": "",
    "connections": "",
    "no_progress": False,
    "sample": "",
    "json_": False,
}


def names(sample: bool, taken: set[str]) -> list[str]:
    """The fleet options a task takes beyond its own (`json_` when it has none; --sample for verify-all)."""
    return [key for key in DEFAULTS if key not in taken and (sample or key != "sample")]


def for_a_fleet(task: str, given: dict[str, Any]) -> bool:
    """Whether the options ask for a run on a fleet; a fleet option without --targets/--target is bad input."""
    if given.get("targets") or given.get("target"):
        return True
    used = [key for key, value in given.items() if value != DEFAULTS[key]]
    if used:
        from ..errors import UsageError

        flag = "--" + used[0].rstrip("_").replace("_", "-")
        raise UsageError(f"{task}: {flag} is for a fleet; add --targets NAME (docs/fleets.md)")
    return False
