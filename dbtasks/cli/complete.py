"""`dbtasks complete WORD [--config FILE]`: the service names of the nearest migrations.yaml that start with WORD.

Shell completion calls it on every TAB, so it reads only the service names (no validation, no Alembic) and
never prints anything but names: on any error it prints nothing and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONFIG_NAME = "migrations.yaml"


def find_config(start: Path) -> Path | None:
    """The migrations.yaml in `start` or the nearest folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def service_names(config_file: Path) -> list[str]:
    """The names under `services:`, in file order (no other check: completion must be fast)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(config_file, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=loader)  # a safe loader: the C one when PyYAML has it
    services = document.get("services") if isinstance(document, dict) else None
    return [name for name in services if isinstance(name, str)] if isinstance(services, dict) else []


def parse(argv: list[str]) -> tuple[str, str | None]:
    """(WORD, --config FILE); ValueError on anything else."""
    word: str | None = None
    config: str | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--":
            rest = list(args)
            if word is not None or len(rest) > 1:
                raise ValueError("one WORD")
            word = rest[0] if rest else ""
        elif arg == "--config":
            config = next(args)  # StopIteration is caught by main
        elif arg.startswith("--config="):
            config = arg.partition("=")[2]
        elif word is None:
            word = arg
        else:
            raise ValueError("one WORD")
    return word or "", config


def main(argv: list[str]) -> int:
    try:
        word, config = parse(argv)
        config_file = Path(config) if config else find_config(Path(os.getcwd()))
        if config_file is None:
            return 1
        names = [name for name in service_names(config_file) if name.startswith(word)]
    except Exception:  # completion must never show a traceback: an error completes nothing
        return 1
    sys.stdout.write("".join(f"{name}\n" for name in names))
    return 0
