"""Which process owns something left on disk or on a server: `host pid start-time`, and whether that owner is gone.

A process killed with -9 cleans nothing up; whoever comes next removes what it left, but only when the
owner is provably gone: on this host (another host's processes cannot be seen), its pid no longer running,
or running but started at another time (the pid was reused)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..settings import digits

# The comment on a scratch database that names its owner, so that the next verify can drop it when that
# owner was killed (-9 runs no cleanup); a database kept on purpose (--keep) has no such comment.
SCRATCH_OWNER = "dbtasks verify scratch database of "


def start_time(pid: int) -> str:
    """When process `pid` started, in clock ticks since boot (Linux /proc); "-" where that is unknown."""
    return _stat(pid)[1]


def _stat(pid: int) -> tuple[str, str]:
    """(state, start time) of process `pid` from /proc; "-" for what is unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-", "-"
    # The command name in parentheses may hold spaces: the fields after the last ')' are fixed.
    fields = text.rsplit(")", 1)[-1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else ("-", "-")


def this_process() -> str:
    """The owner string of the running process: `host pid start-time`."""
    pid = os.getpid()
    return f"{socket.gethostname()} {pid} {start_time(pid)}"


def is_gone(owner: str) -> bool:
    """True only when `owner` (from this_process) names a process of this host that no longer runs."""
    parts = owner.split()
    if len(parts) != 3 or not digits(parts[1]) or parts[0] != socket.gethostname():
        return False
    pid, started = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    state, now = _stat(pid)
    # A zombie has ended (its parent has not reaped it yet); another start time means the pid was reused.
    return state == "Z" or (started != "-" and now not in ("-", started))
