"""Shared by scripts/onboard and scripts/test: a project .venv with the package installed, reused when current."""

from __future__ import annotations

import hashlib
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
    print(f"==> {text}", flush=True)


def run(*args: str | Path) -> None:
    """Run a command from an argument list (never a shell string); stop the script if it fails."""
    result = subprocess.run([str(arg) for arg in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    """Create .venv and install the project into it, skipping the install when pyproject.toml is unchanged."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs under whatever python3 the user has
        sys.exit(f"dbtasks needs Python 3.11 or newer; this is {sys.version.split()[0]}: run this script with python3.11+")
    if not PYTHON.exists():
        say(f"creating {VENV.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        say("dependencies already installed (pyproject.toml unchanged)")
        return
    say("installing the project and its dependencies")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f".[{EXTRAS}]")
    STAMP.write_text(wanted + "\n")
