"""Service interpreters of other stacks than ours: a venv per pinned stack, built from a pyenv Python once
and reused by later sessions. They live outside the repository, in the user's cache ($DBTASKS_TEST_STACKS, else
~/.cache/dbtasks-test-stacks): third-party code, which no scan of this tree should read as ours.

Several pytest-xdist workers may ask for one stack at once: the build runs under an fcntl lock, and a
marker written last (holding the interpreter and the requirements) tells a finished venv from a half-built
or outdated one. A missing pyenv Python skips the test that asked, naming it; a failed pip install is an
error showing pip's last lines."""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CACHE = Path(
    os.environ.get("DBTASKS_TEST_STACKS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dbtasks-test-stacks"
)
MARKER = "dbtasks-stack.json"


@dataclass(frozen=True)
class Stack:
    name: str
    python: str  # the pyenv version, e.g. "3.8"
    requirements: tuple[str, ...]
    driver: str  # the driver the stack's services declare in migrations.yaml


STACKS = {
    stack.name: stack
    for stack in (
        # The oldest stack the worker supports: Python 3.8, SQLAlchemy 1.3, Alembic 1.7, psycopg2.
        Stack("py38-sa13", "3.8", ("SQLAlchemy==1.3.24", "alembic==1.7.7", "psycopg2-binary==2.9.9"), "psycopg2"),
        # The newest Python with psycopg 3 and SQLAlchemy 2.0 (our own venv has the newest SQLAlchemy, 2.1 today);
        # ruff for the post-write hook of services/movements/alembic.ini, as that service's own venv has it.
        Stack("py313-psycopg3", "3.13", ("SQLAlchemy>=2.0,<2.1", "alembic>=1.13", "psycopg[binary]>=3.1", "ruff"), "psycopg"),
    )
}


class StackBuildError(Exception):
    """Creating a stack's venv failed (pip, venv): the message ends with the tool's last lines."""


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"))


def pyenv_python(version: str) -> str | None:
    """The newest pyenv interpreter of `version` (e.g. '3.8'), if this machine has one."""
    found = glob.glob(str(pyenv_root() / "versions" / f"{version}.*" / "bin" / "python"))
    found.sort(key=lambda path: [int(part) if part.isdigit() else -1 for part in Path(path).parents[1].name.split(".")])
    return found[-1] if found else None


def require_pyenv_python(version: str) -> str:
    """The pyenv interpreter of `version`; skips the calling test, naming what is missing, when there is none."""
    python = pyenv_python(version)
    if python is None:
        pytest.skip(
            f"no Python {version} under pyenv on this machine (looked for {pyenv_root()}/versions/{version}.*/bin/python; "
            f"'pyenv install {version}' adds it)"
        )
    return python


def stack_python(name: str, cache: Path = CACHE) -> Path:
    """The interpreter of stack `name`, building its venv first when it is missing or outdated."""
    stack = STACKS[name]
    base = require_pyenv_python(stack.python)
    folder = cache / name
    expected = {"base": base, "requirements": list(stack.requirements)}
    if _marker(folder) == expected:
        return folder / "bin" / "python"
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / f"{name}.lock"):
        if _marker(folder) != expected:  # another worker may have built it while we waited
            _build(folder, base, stack.requirements)
            (folder / MARKER).write_text(json.dumps(expected), encoding="utf-8")
    return folder / "bin" / "python"


def _marker(folder: Path) -> object:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(folder: Path, base: str, requirements: tuple[str, ...]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    _run([base, "-m", "venv", str(folder)], f"creating the venv {folder} from {base}")
    pip = [
        str(folder / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    _run([*pip, *requirements], f"pip install {' '.join(requirements)} into {folder}")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        last = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackBuildError(f"{what} failed with exit code {result.returncode}:\n{last}")
