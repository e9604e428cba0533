"""squawk (the squawk-cli package, a dependency of dbtasks): found next to this interpreter, run once per service on
its revisions' SQL files, its JSON report read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import DbtasksError
from .rules import LintRules

INSTALL = "pip install squawk-cli (dbtasks depends on it: reinstall dbtasks into this venv)"
TIMEOUT = 300  # seconds; squawk lints thousands of statements in well under one


class SquawkMissing(DbtasksError):
    """The squawk binary is in neither this interpreter's scripts folder nor on PATH."""

    exit_code = 2


class SquawkFailed(DbtasksError):
    """squawk ran but gave no report (a crash, a rule name this version does not know)."""


def binary() -> Path:
    """The squawk next to this interpreter (the venv dbtasks is installed in), else the first on PATH."""
    override = settings.squawk()
    if override is not None:
        if override.is_file():
            return override
        raise SquawkMissing(f"squawk: {settings.SQUAWK}={override} is not a file; unset it, or {INSTALL}")
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "squawk"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("squawk")
    if found:
        return Path(found)
    raise SquawkMissing(f"squawk: not found next to {sys.executable} nor on PATH; {INSTALL}")


def arguments(rules: LintRules) -> list[str]:
    """squawk's options for `rules` (its JSON reporter; no config file of the user's is read: the rules come from
    migrations.yaml)."""
    args = ["--reporter", "json", "--no-error-on-unmatched-pattern"]
    if rules.exclude:
        args.append("--exclude=" + ",".join(rules.exclude))
    if rules.include:
        args.append("--include=" + ",".join(rules.include))
    if rules.pg_version:
        args.append("--pg-version=" + (rules.pg_version if "." in rules.pg_version else rules.pg_version + ".0"))
    return args


def run(files: Sequence[Path], rules: LintRules, cwd: Path) -> list[dict[str, Any]]:
    """squawk's findings for `files` (paths relative to `cwd`, where no .squawk.toml is): one dict per finding,
    with file, line and line_end (0-based), rule_name, message, help, level."""
    if not files:
        return []
    command = [str(binary()), *arguments(rules), *(str(path) for path in files)]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SquawkFailed(f"squawk: could not run {command[0]} ({error}); {INSTALL}") from None
    try:
        findings = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        findings = None
    if not isinstance(findings, list) or done.returncode not in (0, 1):
        reason = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[0]
        raise SquawkFailed(f"squawk: {reason} (exit {done.returncode}); check that squawk-cli is 2.x: {INSTALL}")
    return [finding for finding in findings if isinstance(finding, dict)]
