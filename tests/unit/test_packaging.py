"""An install from PyPI or a path (not editable) carries every package of dbtasks: the worker and the Invoke layer too."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from setuptools import find_namespace_packages

if sys.version_info >= (3, 11):
    import tomllib
else:  # the core suite also runs on Python 3.9, where pytest itself depends on tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_namespace_packages(where=str(ROOT), include=include))
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "dbtasks").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert {"dbtasks", "dbtasks.worker", "dbtasks.cli"} <= folders
    assert folders <= installed, folders - installed


def test_squawk_cli_is_a_dependency() -> None:
    """`inv db.lint` runs the squawk binary that the squawk-cli wheel puts in the venv's bin: pip installs it with dbtasks."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(dependency.startswith("squawk-cli>=2.70") for dependency in config["project"]["dependencies"])


# -- what `python -m build` and `pip install "dbtasks @ git+file://..."` really produce ------------------------


def package_modules(root: Path) -> set[str]:
    """Every file of the dbtasks package under `root`: its modules and py.typed, as paths like dbtasks/worker/ops.py."""
    return {
        path.relative_to(root).as_posix()
        for path in (root / "dbtasks").rglob("*")
        if path.suffix in (".py", ".typed") and "__pycache__" not in path.parts
    }


@pytest.mark.slow
def test_the_wheel_and_sdist_hold_every_module_the_worker_entry_point_and_py_typed(tmp_path: Path) -> None:
    """`python -m build` (the wheel made from the sdist), without build isolation: the setuptools of this venv builds
    what an isolated one would (the git URL test below builds with isolation, as pip does for users)."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel_file,), (sdist_file,) = tmp_path.glob("*.whl"), tmp_path.glob("*.tar.gz")
    with zipfile.ZipFile(wheel_file) as wheel:
        names = set(wheel.namelist())
        entry_points = next(wheel.read(name).decode() for name in names if name.endswith(".dist-info/entry_points.txt"))
    files = {name for name in names if name.startswith("dbtasks/")}
    assert {
        "dbtasks/worker/__main__.py",
        "dbtasks/py.typed",
        "dbtasks/__main__.py",
        "dbtasks/init/write.py",
        "dbtasks/database/urls.py",
    } <= files
    assert files == package_modules(ROOT), files ^ package_modules(ROOT)
    assert "dbtasks = dbtasks.__main__:main" in entry_points
    with tarfile.open(sdist_file) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "dbtasks/worker/__main__.py", "dbtasks/py.typed"} <= names
    assert package_modules(ROOT) <= names, package_modules(ROOT) - names


@pytest.mark.slow
@pytest.mark.network
def test_pip_installs_from_a_git_file_url(tmp_path: Path) -> None:
    """The README's `pip install "git+file:///path/to/dbtasks"` and `pip install "dbtasks @ git+file:///path/to/dbtasks"`,
    from a local clone: what is committed is what gets installed, console script included. The second form needs
    pip 24.1 or newer (older pips reject a URL without a host as an invalid requirement): the dev extra asks for it."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", ROOT.as_uri(), str(clone)], check=True, timeout=120)
    forms = {"plain": f"git+{clone.as_uri()}", "named": f"dbtasks @ git+{clone.as_uri()}"}
    for name, requirement in forms.items():
        target = tmp_path / name
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), requirement],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (requirement, result.stdout[-3000:] + result.stderr[-3000:])
        assert package_modules(target) == package_modules(clone), package_modules(target) ^ package_modules(clone)
        assert "dbtasks.__main__" in (target / "bin" / "dbtasks").read_text()
