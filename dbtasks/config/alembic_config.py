"""Where Alembic reads a service's configuration, as plain `alembic` in its folder would: alembic.ini's section
(`alembic -n NAME`), then pyproject.toml's [tool.alembic] (Alembic 1.16 and later), and why it could not."""

from __future__ import annotations

import re
from pathlib import Path

from .project import display_path, read_utf8

# A [tool.alembic] table in pyproject.toml (Alembic >= 1.16 reads it after alembic.ini), found without parsing TOML.
_TOOL_ALEMBIC = re.compile(r"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*alembic[ \t]*\][ \t]*(?:#.*)?$", re.MULTILINE)


def alembic_files(path: Path, declared: str) -> tuple[Path, Path | None]:
    """(alembic.ini, pyproject.toml or None) as plain `alembic` in `path` reads them: `alembic_ini: pyproject.toml`
    (alembic -c pyproject.toml) names the TOML file and keeps alembic.ini (which may be absent); otherwise the
    folder's pyproject.toml counts when it has a [tool.alembic] table."""
    if Path(declared).name == "pyproject.toml":
        return path / "alembic.ini", path / declared
    toml = path / "pyproject.toml"
    return path / declared, toml if toml.is_file() and _TOOL_ALEMBIC.search(read_utf8(toml) or "") else None


def alembic_problem(ini: Path, pyproject: Path | None, section: str) -> str | None:
    """Why Alembic could not read the service's configuration from these files, with the fix; None when it can."""
    if pyproject is not None and not pyproject.is_file():
        return f"{display_path(pyproject)} does not exist; fix alembic_ini"
    if pyproject is not None and not _TOOL_ALEMBIC.search(read_utf8(pyproject) or ""):
        return f"{display_path(pyproject)} has no [tool.alembic] table; run 'alembic init -t pyproject' there or fix alembic_ini"
    if not ini.is_file():
        if pyproject is not None:
            return None  # [tool.alembic] holds the configuration; no ini needed
        return f"{display_path(ini)} does not exist; run 'alembic init' there or fix alembic_ini"
    if pyproject is None or section != "alembic":
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read_string(read_utf8(ini) or "", str(ini))
        except configparser.Error as error:
            return f"{display_path(ini)} cannot be read ({type(error).__name__}); fix the file"
        if not parser.has_section(section):
            units = [name for name in parser.sections() if parser.has_option(name, "script_location")]
            return (
                f"{display_path(ini)} has no [{section}] section (sections with a script_location: "
                f"{', '.join(units) or 'none'}); fix ini_section"
            )
        if pyproject is None and not parser.has_option(section, "script_location"):
            return (
                f"{display_path(ini)} has no script_location in [{section}], and no pyproject.toml beside it has "
                "[tool.alembic]; add script_location (alembic init writes one) or fix alembic_ini"
            )
    return None
