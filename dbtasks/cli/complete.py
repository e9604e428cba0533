"""`dbtasks complete WORD [--config FILE]`: the service names of the nearest migrations.yaml that start with WORD.

Shell completion calls it on every TAB, so it reads only the service names (no validation, no Alembic) and
never prints anything but names: on any error it prints nothing and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..settings import find_config


def service_names(config_file: Path) -> list[str]:
    """The names under `services:`, in file order (no other check: completion must be fast, and bombs are refused)."""
    import yaml

    from ..config.yaml_bounds import compose

    root = compose(config_file.read_text(encoding="utf-8"))
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "services" and isinstance(value, yaml.MappingNode):
            return [name.value for name, _ in value.value if isinstance(name, yaml.ScalarNode) and name.value != "<<"]
    return []


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
