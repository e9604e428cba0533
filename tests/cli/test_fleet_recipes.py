"""docs/fleets/: the Kubernetes Indexed Job and the GitHub Actions matrix that migrate one fleet in N parts. Both
parse, say what they claim, and their commands run, part by part, over a fleet of databases: every member is
migrated by exactly one part."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _support import REPO, copy_project, execute, head_of, show, task_environment, version, with_database

FOLDER = REPO / "docs" / "fleets"
BIN = Path(sys.executable).parent


def document(name: str) -> dict[str, Any]:
    found = yaml.safe_load((FOLDER / name).read_text(encoding="utf-8"))
    assert isinstance(found, dict)
    return found


@pytest.fixture
def fleet(tmp_path: Path, pg_server: str) -> Iterator[tuple[Path, list[str]]]:
    """A copy of the project whose migrations.yaml names a fleet `tenants` of 8 new databases (users only)."""
    prefix = f"recipe_{secrets.token_hex(4)}"
    names = [f"{prefix}_{number}" for number in range(8)]
    for name in names:
        execute(pg_server, f'CREATE DATABASE "{name}"')
    root = copy_project(tmp_path / "checkout")
    with (root / "migrations.yaml").open("a", encoding="utf-8") as handle:
        handle.write(
            f"targets:\n  tenants:\n    services: [users]\n"
            f"    query: \"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'\"\n"
        )
    try:
        yield root, names
    finally:
        for name in names:
            execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(url: str, extra: dict[str, str]) -> dict[str, str]:
    found = task_environment(url, extra)
    found["PATH"] = f"{BIN}{os.pathsep}{found.get('PATH', '')}"
    return found


def test_the_indexed_job_says_what_it_claims() -> None:
    job = document("kubernetes-job.yaml")
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = spec["template"]["spec"]["containers"]
    variables = {item["name"]: item for item in container["env"]}
    assert int(variables["JOB_COMPLETIONS"]["value"]) == spec["completions"] == spec["parallelism"]
    assert "secretKeyRef" in variables["DATABASE_URL"]["valueFrom"]
    assert container["command"][:2] == ["inv", "db.upgrade-all"] and "--shard" in container["command"]
    assert container["command"][container["command"].index("--shard") + 1] == "auto"


@pytest.mark.slow
def test_each_pod_of_the_indexed_job_migrates_its_share(fleet: tuple[Path, list[str]], pg_server: str) -> None:
    root, names = fleet
    spec = document("kubernetes-job.yaml")["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    completions = str(spec["completions"])
    counted = 0
    for index in range(spec["completions"]):
        pod = environment(pg_server, {"JOB_COMPLETION_INDEX": str(index), "JOB_COMPLETIONS": completions})
        result = subprocess.run(container["command"], cwd=root, env=pod, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, show(result)
        summary = result.stdout.strip().splitlines()[-1]
        assert summary.startswith(f"tenants (shard {index + 1}/{completions}): "), summary
        counted += int(summary.split(": ")[1].split()[0])
    assert counted == len(names)
    for name in names:
        assert version(with_database(pg_server, name), "users") == [head_of("users")], name


def workflow() -> dict[Any, Any]:
    return document("github-actions.yml")


def test_the_matrix_says_what_it_claims() -> None:
    (job,) = workflow()["jobs"].values()
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert job["env"]["DATABASE_URL"].startswith("${{ secrets.")
    steps = {step["name"]: step for step in job["steps"]}
    assert "--shard ${{ matrix.shard }}/${{ strategy.job-total }}" in steps["Migrate this part of the fleet"]["run"]
    assert steps["Upload the report"]["if"] == "${{ !cancelled() }}"


@pytest.mark.slow
def test_each_matrix_job_migrates_its_share(fleet: tuple[Path, list[str]], pg_server: str) -> None:
    root, names = fleet
    (job,) = workflow()["jobs"].values()
    shards = job["strategy"]["matrix"]["shard"]
    step = next(step for step in job["steps"] if step["name"] == "Migrate this part of the fleet")
    reports = []
    for shard in shards:
        command = step["run"].replace("${{ matrix.shard }}", str(shard)).replace("${{ strategy.job-total }}", str(len(shards)))
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            cwd=root,
            env=environment(pg_server, {}),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, show(result)
        reports.append(json.loads((root / f"fleet-{shard}.json").read_text(encoding="utf-8")))
    members = [entry["target"] for report in reports for entry in report["targets"]]
    assert sorted(members) == sorted(names)  # every member once, in exactly one part
    assert [report["shard"] for report in reports] == [f"{shard}/{len(shards)}" for shard in shards]
    for name in names:
        assert version(with_database(pg_server, name), "users") == [head_of("users")], name
