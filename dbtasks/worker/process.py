"""One request in this process: Ctrl-C and the parent's lifeline, the operation, the result on its pipe.

The parent keeps our stdin open while it runs: end of file there means it died (kill -9), and we stop
as Ctrl-C would, rolling back the migration in progress.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import traceback
from typing import Any

from . import catalog, checksums, configure
from .failures import Failure, classify
from .operation import Operation
from .ops import OPS
from .protocol import MIGRATING_OPS, Request, Result, failed, succeeded


def run_request(request: Request) -> int:
    """Run one request and write its result to the request's result_fd; the exit code is 0 when it was written."""
    ours = request.get("bookkeeping_schema") or checksums.DEFAULT_SCHEMA  # dbtasks' own schema in this database
    checksums.use(ours)
    catalog.use(ours)
    signal.signal(signal.SIGINT, _interrupt_once)
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(wakeup_read,), daemon=True).start()
    result = _result(request)
    with os.fdopen(int(request["result_fd"]), "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


def _result(request: Request) -> Result:
    operation = None
    try:
        operation = Operation(request)
        configure.install(operation)
        return succeeded(OPS[request["op"]](operation))
    except Failure as failure:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # failed already: a late interrupt must not lose the result
        result = failed(failure.kind, str(failure), failure.data)
    except BaseException as error:  # every failure must reach the parent as data
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # (the parent interrupts a worker whose lock was lost)
        found = classify(error)
        result = failed(found["kind"], found["message"], found["data"], traceback.format_exc())
    if operation is not None and operation.op in MIGRATING_OPS:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the read-back
        reached = operation.where_it_stays(result["kind"])
        if reached is not None:
            result["data"]["reached"] = reached
    return result


def _interrupt_once(signum: int, frame: Any) -> None:
    # The first Ctrl-C stops the migration; later ones must not break the rollback that follows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _watch(wakeup: int) -> None:
    """Stop promptly on Ctrl-C (a byte on `wakeup`) or when the parent dies (end of file on stdin)."""
    watched = [0, wakeup]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if wakeup in ready:
            os.read(wakeup, 512)
            for connection in list(configure.CANCELLABLE):
                with contextlib.suppress(Exception):
                    connection.cancel()
        if 0 in ready and not os.read(0, 65536):  # unbuffered: a buffered reader would block interpreter shutdown
            watched.remove(0)
            os.kill(os.getpid(), signal.SIGINT)
