"""Where Alembic reads a service's configuration, as plain `alembic` in its folder would: alembic.ini's section
(`alembic -n NAME`), then pyproject.toml's [tool.alembic] (Alembic 1.16 and later), and why it could not."""

from __future__ import annotations

import re
from pathlib import Path

from .project import display_path, read_utf8

# A [tool.alembic] table in pyproject.toml (Alembic >= 1.16 reads it after alembic.ini), found without parsing TOML.
_TOOL_ALEMBIC = re.compile(r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*alembic[ \t]*\][ \t]*(?:#.*)?$", re.MULTILINE)


def alembic_files(path: Path, declared: str, python: str | None = None, toml_file: str | None = None) -> tuple[Path, Path | None]:
    """(alembic.ini, pyproject.toml or None) as plain `alembic` in `path` reads them: `alembic_ini: pyproject.toml`
    (alembic -c pyproject.toml) names the TOML file and keeps alembic.ini (which may be absent); otherwise the
    folder's pyproject.toml counts when it has a [tool.alembic] table. `package:alembic.ini` is the ini shipped in an
    installed package, found by the service's interpreter `python` (ValueError: it is not installed there).
    `toml_file` (alembic --toml-file) names the TOML file read after the ini instead of the folder's pyproject.toml."""
    shipped = _PACKAGE_FILE.match(declared)
    toml = path / toml_file if toml_file is not None else None
    if shipped and not (path / declared).exists():
        return package_folder(shipped[1], python, path) / shipped[2], toml
    if toml is not None:
        return path / declared, toml
    if Path(declared).name == "pyproject.toml":
        return path / "alembic.ini", path / declared
    toml = path / "pyproject.toml"
    return path / declared, toml if toml.is_file() and _TOOL_ALEMBIC.search(read_utf8(toml) or "") else None


def alembic_problem(ini: Path, pyproject: Path | None, section: str, toml_key: str = "alembic_ini") -> tuple[str, str] | None:
    """(the migrations.yaml key to fix, why Alembic could not read the service's configuration from these files, with
    the fix); None when it can. `toml_key`: the key that named the TOML file."""
    if pyproject is not None and not pyproject.is_file():
        return toml_key, f"{display_path(pyproject)} does not exist; fix {toml_key}"
    if pyproject is not None and not _TOOL_ALEMBIC.search(read_utf8(pyproject) or ""):
        return (
            toml_key,
            f"{display_path(pyproject)} has no [tool.alembic] table; run 'alembic init -t pyproject' there or fix {toml_key}",
        )
    if not ini.is_file():
        if pyproject is not None:
            return None  # [tool.alembic] holds the configuration; no ini needed
        return "alembic_ini", f"{display_path(ini)} does not exist; run 'alembic init' there or fix alembic_ini"
    if pyproject is None or section != "alembic":
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read_string(read_utf8(ini) or "", str(ini))
        except configparser.Error as error:
            return "alembic_ini", f"{display_path(ini)} cannot be read ({type(error).__name__}); fix the file"
        if not parser.has_section(section):
            units = [name for name in parser.sections() if parser.has_option(name, "script_location")]
            return "ini_section", (
                f"{display_path(ini)} has no [{section}] section (sections with a script_location: "
                f"{', '.join(units) or 'none'}); fix ini_section"
            )
        if pyproject is None and not parser.has_option(section, "script_location"):
            return "alembic_ini", (
                f"{display_path(ini)} has no script_location in [{section}], and no pyproject.toml beside it has "
                "[tool.alembic]; add script_location (alembic init writes one), name the TOML file that has it with toml_file, "
                "or fix alembic_ini"
            )
    return None


# `package:alembic.ini`, `package.sub:db/alembic.ini`: a file shipped in an installed package (Alembic's own spelling
# of script_location = package:path).
_PACKAGE_FILE = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):([^:]+)\Z")
_FIND_PACKAGE = (
    "import importlib.util, os, sys\n"
    "spec = importlib.util.find_spec(sys.argv[1])\n"
    "places = list(spec.submodule_search_locations or []) if spec else []\n"
    "print(places[0] if places else '')\n"
)


def package_folder(package: str, python: str | None, cwd: Path) -> Path:
    """The folder of `package` as the service's interpreter imports it (run from the service's folder)."""
    import subprocess
    import sys

    interpreter = python or sys.executable
    try:
        done = subprocess.run(
            [interpreter, "-c", _FIND_PACKAGE, package], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ValueError(f"cannot ask {interpreter} where package {package} is ({error}); fix python or alembic_ini") from None
    folder = done.stdout.strip() if done.returncode == 0 else ""
    if not folder:
        raise ValueError(
            f"package {package} is not installed for {interpreter}; install it into the service's environment, or fix alembic_ini"
        )
    return Path(folder)
