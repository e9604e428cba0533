"""docs/ci/github-actions.yml: its structure, and every `run:` step executed in order, as the runner would, in a
copy of this repository's project against a fresh database, with the reports it writes read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from _support import REPO, copy_project, declared_services, local_database_made, replace_once, show, task_environment

WORKFLOW = REPO / "docs" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent
# Steps that only prepare the runner: named here, with why the test does not run them (every other step runs).
SETUP_ONLY = {
    "Check out the repository": "the test works in a copy of the repository's project",
    "Set up Python": "the test runs with this interpreter",
    "Install dbtasks and the services' dependencies": "this venv has the project and its [examples] installed already",
}
REPORTS = ("check.json", "verify.xml", "migrations.html")


def workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def the_job() -> dict[str, Any]:
    jobs = workflow()["jobs"]
    assert list(jobs) == ["migrations"]
    job = jobs["migrations"]
    assert isinstance(job, dict)
    return job


def step_named(name: str) -> dict[str, Any]:
    return next(step for step in the_job()["steps"] if step.get("name") == name)


def test_the_workflow_structure() -> None:
    document = workflow()
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"}
    job = the_job()
    assert job["runs-on"] == "ubuntu-latest"
    assert job["defaults"] == {"run": {"shell": "bash"}}
    postgres = job["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    options = postgres["options"].split("--")
    assert any(option.startswith("health-cmd ") and "pg_isready" in option for option in options), postgres["options"]
    assert {option.split()[0] for option in options if option.strip()} >= {"health-cmd", "health-interval", "health-retries"}
    # DATABASE_URL reaches that container: its user, password, database and published port.
    url = urlsplit(job["env"]["DATABASE_URL"])
    container = postgres["env"]
    assert (url.scheme, url.hostname) == ("postgresql", "localhost")
    assert (url.username, url.password, url.path) == (
        container["POSTGRES_USER"],
        container["POSTGRES_PASSWORD"],
        "/" + container["POSTGRES_DB"],
    )
    assert f"{url.port}:5432" in postgres["ports"]
    assert f"--username {container['POSTGRES_USER']}" in postgres["options"]


def test_the_steps_and_what_they_run() -> None:
    steps = the_job()["steps"]
    names = [step["name"] for step in steps]
    assert set(SETUP_ONLY) <= set(names), "a step named in SETUP_ONLY is no longer in the workflow"
    assert step_named("Check out the repository")["uses"] == "actions/checkout@v4"
    assert step_named("Set up Python")["uses"] == "actions/setup-python@v5"
    assert step_named("Install dbtasks and the services' dependencies")["run"].startswith("python -m pip install ")
    runs = [step["run"].strip() for step in steps if "run" in step and step["name"] not in SETUP_ONLY]
    assert runs == [
        'inv db.plan --markdown --fail-on destructive >> "$GITHUB_STEP_SUMMARY"',
        "inv db.upgrade-all",
        "inv db.check-all --json > check.json",
        "inv db.verify-all --junit verify.xml",
        "inv db.report --html migrations.html",
    ]
    upload = steps[-1]
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "${{ !cancelled() }}"  # also after a failed step
    assert upload["with"]["path"].split() == list(REPORTS)
    assert all(
        step.get("if") == "${{ !cancelled() }}"
        for step in steps
        if "check.json" in step.get("run", "") or "verify.xml" in step.get("run", "")
    )


def local_off(root: Path) -> None:
    """What the recipe asks of the monorepo's migrations.yaml: never the embedded database."""
    replace_once(
        root / "migrations.yaml", "database:\n  url_env: DATABASE_URL", "database:\n  url_env: DATABASE_URL\n  local: false"
    )


def run_step(step: dict[str, Any], root: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One `run:` step as the runner runs it with `shell: bash`: bash --noprofile --norc -eo pipefail, in the checkout."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=root,
        env={**environment, **{key: str(value) for key, value in step.get("env", {}).items()}},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_every_run_step_passes_on_this_repository(tmp_path: Path, database_url: str) -> None:
    root = copy_project(tmp_path / "checkout")
    local_off(root)
    environment = task_environment(
        database_url, {key: str(value) for key, value in the_job()["env"].items() if key != "DATABASE_URL"}
    )
    environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"  # what setup-python and pip install provide
    environment["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")  # the file GitHub Actions shows on the run's page
    ran, skipped = [], []
    for step in the_job()["steps"]:
        if step["name"] in SETUP_ONLY:
            skipped.append(step["name"])
            continue
        if "run" not in step:
            assert step.get("uses", "").startswith("actions/upload-artifact@"), step
            continue
        result = run_step(step, root, environment)
        assert result.returncode == 0, f"step {step['name']!r}\n{show(result)}"
        assert "Traceback" not in result.stdout + result.stderr, show(result)
        ran.append(step["name"])
    assert skipped == list(SETUP_ONLY)
    assert len(ran) == 5
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## Migration plan\n\n```mermaid\n"), summary[:300]
    assert all(f"| {service} | base | " in summary for service in declared_services(root)), summary
    services = set(declared_services(root))
    check = json.loads((root / "check.json").read_text(encoding="utf-8"))
    assert {entry["service"]: entry["ok"] for entry in check["services"]} == dict.fromkeys(services, True)
    suites = ElementTree.parse(root / "verify.xml").getroot()
    found = suites.findall("testsuite") if suites.tag == "testsuites" else [suites]
    assert {suite.get("name") for suite in found} == services
    assert all(suite.get("failures") == "0" and suite.get("errors", "0") == "0" for suite in found), ElementTree.tostring(suites)[
        :2000
    ]
    assert all(len(suite.findall("testcase")) >= 5 for suite in found)
    report = (root / "migrations.html").read_text(encoding="utf-8")
    assert all(f'<tr data-service="{service}" data-state="up to date">' in report for service in services), report[:3000]


def test_a_missing_url_fails_instead_of_using_the_embedded_database(tmp_path: Path) -> None:
    """Why the recipe wants database.local: false: an empty DATABASE_URL (a fork's secret) stops the first step."""
    root = copy_project(tmp_path / "checkout")
    local_off(root)
    environment = task_environment(None, {"DATABASE_URL": "", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    result = run_step(step_named("Apply every service's migrations"), root, environment)
    assert result.returncode == 2, show(result)
    assert result.stderr.strip().splitlines()[-1] == (
        "DATABASE_URL is not set and migrations.yaml turns the local database off (database.local: false); "
        "set DATABASE_URL to the database to migrate"
    )
    assert not local_database_made(root)


@pytest.mark.slow
def test_the_workflow_validates_against_the_github_workflow_schema() -> None:
    """SchemaStore's schema for GitHub workflows, as vendored by check-jsonschema (a dev dependency: no network)."""
    command = [
        str(Path(sys.executable).with_name("check-jsonschema")),
        "--builtin-schema",
        "vendor.github-workflows",
        str(WORKFLOW),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, show(result)
