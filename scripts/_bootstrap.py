"""Shared by scripts/onboard and scripts/test: a project .venv with the package installed, reused when current."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
PYTHON = BIN / "python"
EXTRAS = "examples,dev"
STAMP = VENV / ".dbtasks-installed"


def say(text: str) -> None:
    sys.stdout.write(f"==> {text}\n")  # one write: the 3.9 venv's thread says things while the main thread does
    sys.stdout.flush()


def run(*args: str | Path) -> None:
    """Run a command from an argument list (never a shell string); stop the script if it fails."""
    result = subprocess.run([str(arg) for arg in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    """Create .venv and install the project into it, skipping the install when pyproject.toml is unchanged."""
    if sys.version_info < (3, 11):  # this runs under whatever python3 the user has
        sys.exit(
            f"scripts/test and scripts/onboard need Python 3.11 or newer (dbtasks itself runs on 3.9); this is {sys.version.split()[0]}: run this script with python3.11+"
        )
    if not PYTHON.exists():
        say(f"creating {VENV.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    install_project(PYTHON, STAMP)


def install_project(python: Path, stamp: Path, extras: str = EXTRAS) -> None:
    """pip install -e .[extras] with `python`, skipped when `stamp` says pyproject.toml is unchanged since the last one."""
    where = stamp.parent.relative_to(ROOT)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        say(f"dependencies already installed in {where} (pyproject.toml unchanged)")
        return
    say(f"installing the project and its dependencies into {where}")
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f".[{extras}]")
    stamp.write_text(wanted + "\n")


def pyenv_python(version: str) -> Path | None:
    """The newest interpreter of `version` (e.g. "3.9") under pyenv's root, if this machine has one."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted(
        root.glob(f"versions/{version}.*/bin/python"),
        key=lambda path: [int(part) if part.isdigit() else -1 for part in path.parents[1].name.split(".")],
    )
    return found[-1] if found else None


def ensure_venv_of(base: Path, folder: Path, extras: str = EXTRAS) -> Path:
    """A venv of the interpreter `base` in `folder` (such as .venv/py39) with the project and `extras` installed;
    returns its python."""
    python = folder / "bin" / "python"
    if not python.exists():
        say(f"creating {folder.relative_to(ROOT)} from {base}")
        # --upgrade-deps: the pip that Python 3.9 bundles (23.0) backtracks for many minutes over our dependencies.
        run(base, "-m", "venv", "--clear", "--upgrade-deps", folder)
    install_project(python, folder / ".dbtasks-installed", extras)
    return python
