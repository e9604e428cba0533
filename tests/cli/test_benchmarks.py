"""`python -m benchmarks` itself: a tiny run of two scenarios (one of them a fleet) on its own embedded server must
finish, prove each side did its work, and write its Markdown and JSON. A harness that breaks is found here, not in
the middle of a 30-minute measurement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _support import REPO, task_environment


@pytest.mark.slow
def test_a_tiny_benchmark_run_measures_both_sides_and_writes_its_reports(tmp_path: Path) -> None:
    markdown, output = tmp_path / "b.md", tmp_path / "b.json"
    arguments = ["--scenarios", "noop-direct,fleet-noop", "--services", "1", "--migrations", "1", "--runs", "1"]
    arguments += ["--warmup", "0", "--fleet-targets", "2", "--workdir", str(tmp_path), "--markdown", str(markdown)]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *arguments, "--output", str(output)],
        cwd=REPO,
        env=task_environment(None, None),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(output.read_text())
    assert [row["scenario"] for row in document["results"]] == ["noop-direct"]
    assert document["results"][0]["ratio"] > 0
    assert [row["scenario"] for row in document["fleet"]] == ["fleet-noop"]
    assert document["fleet"][0]["loop_seconds"] > 0 and document["fleet"][0]["ours_seconds"] > 0
    row = document["fleet"][0]  # issue 25's verdict, from the same figures
    assert row["issue_25_met"] is (row["ratio"] <= 0.005)
    text = markdown.read_text()
    assert "| noop-direct |" in text and "## Fleets (one run per side)" in text and "| fleet-noop |" in text
    assert set(tmp_path.iterdir()) == {markdown, output}  # its temporary folder (project, server) is removed
