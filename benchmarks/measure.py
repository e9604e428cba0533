"""Run one command and measure it: wall time, the largest single process of its tree (exact, from the
kernel) and the peak sum of its tree's resident memory (sampled from /proc).

Memory, two numbers, because each answers a different question:

- `process_kib`: `ru_maxrss` from `os.wait4()` on the command. Linux folds into it the peak of every
  descendant its parent waited for, so it is the largest single process of the tree, exactly, whenever it
  lived. It does not add up processes that ran at the same time.
- `tree_kib`: a sampler thread walks the command's process tree every `interval` seconds (parent links
  from /proc/<pid>/stat) and sums VmRSS; the largest sum is kept. It sees parallel workers together;
  shared pages count once per process (as RSS does), and a peak shorter than the interval can be missed.
- `tree_pss_kib`: the same walk sums each process's proportional set size (Pss of /proc/<pid>/smaps_rollup): a page
  shared by n processes counts 1/n in each, so a fork server's pages, which its children share until they write
  them, count once in the sum. The memory the tree occupies; 0 where the kernel does not tell it.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Measurement:
    seconds: float
    process_kib: int
    tree_kib: int
    tree_pss_kib: int = 0

    @staticmethod
    def combine(parts: Sequence[Measurement]) -> Measurement:
        """A sequence of commands run one after the other: times add up, memory peaks do not."""
        return Measurement(
            sum(part.seconds for part in parts),
            max((part.process_kib for part in parts), default=0),
            max((part.tree_kib for part in parts), default=0),
            max((part.tree_pss_kib for part in parts), default=0),
        )


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    measurement: Measurement
    leftovers: bool = False  # processes of its group outlived the command (we killed them)
    timed_out: bool = False

    @property
    def short(self) -> str:
        """`inv db.status`, `alembic upgrade head`: the command without the interpreter's path."""
        argv = list(self.argv)
        if "invoke" in argv:
            return "inv " + " ".join(argv[argv.index("invoke") + 1 :])
        return " ".join([Path(argv[0]).name, *argv[1:]])

    def describe(self, tail: int = 40) -> str:
        """The command, where it ran, its exit code and the end of its output (for a failure report)."""
        lines = (self.stdout.rstrip() + "\n" + self.stderr.rstrip()).strip().splitlines()
        shown = "\n    ".join(lines[-tail:]) or "(no output)"
        ending = "killed after the timeout" if self.timed_out else f"exit code {self.returncode}"
        return f"$ cd {self.cwd} && {' '.join(self.argv)}\n  {ending}; last output:\n    {shown}"


@dataclass(frozen=True)
class Summary:
    """The runs of one side of a scenario."""

    seconds: tuple[float, ...]
    process_kib: tuple[int, ...]
    tree_kib: tuple[int, ...]
    tree_pss_kib: tuple[int, ...] = ()

    @classmethod
    def of(cls, measurements: Sequence[Measurement]) -> Summary:
        return cls(
            tuple(m.seconds for m in measurements),
            tuple(m.process_kib for m in measurements),
            tuple(m.tree_kib for m in measurements),
            tuple(m.tree_pss_kib for m in measurements),
        )

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def process_mib(self) -> float:
        return statistics.median(self.process_kib) / 1024

    @property
    def tree_mib(self) -> float:
        return statistics.median(self.tree_kib) / 1024

    @property
    def tree_pss_mib(self) -> float:
        return statistics.median(self.tree_pss_kib or (0,)) / 1024


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], *, timeout: float = 3600.0, interval: float = 0.02) -> Completed:
    """Run `argv` (an argument list, never a shell string) in `cwd`, in its own process group."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        sampler = TreeSampler(process.pid, interval)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _kill_group(process.pid)

        timer = threading.Timer(timeout, expire)
        sampler.start()
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM while waiting: take the command's whole tree down with us
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        tree_kib, tree_pss_kib = sampler.stop()
        leftovers = _kill_group(process.pid)  # a worker the command failed to stop: a finding, and in the way
        out.seek(0)
        err.seek(0)
        measurement = Measurement(seconds, int(usage.ru_maxrss), max(tree_kib, int(usage.ru_maxrss)), tree_pss_kib)
        return Completed(
            tuple(argv),
            cwd,
            process.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            measurement,
            leftovers,
            expired.is_set(),
        )


def _kill_group(pid: int) -> bool:
    """Kill what is left of the process group `pid`; False when nothing was left."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class TreeSampler(threading.Thread):
    """Samples the summed RSS (and PSS) of a process and its descendants until stopped; remembers the peaks."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kib = 0
        self.peak_pss_kib = 0
        self.parents: dict[int, int] = {}  # pid -> parent pid; a pid's parent changes only when it is orphaned
        self.finished = threading.Event()

    def run(self) -> None:
        while not self.finished.is_set():
            rss, pss = self.sample()
            self.peak_kib, self.peak_pss_kib = max(self.peak_kib, rss), max(self.peak_pss_kib, pss)
            self.finished.wait(self.interval)

    def stop(self) -> tuple[int, int]:
        self.finished.set()
        self.join()
        return self.peak_kib, self.peak_pss_kib

    def sample(self) -> tuple[int, int]:
        alive = {int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()}
        for pid in list(self.parents):
            if pid not in alive:
                del self.parents[pid]
        for pid in alive - self.parents.keys():
            parent = _parent_of(pid)
            if parent is not None:
                self.parents[pid] = parent
        children: dict[int, list[int]] = {}
        for pid, parent in self.parents.items():
            children.setdefault(parent, []).append(pid)
        total, proportional, pending = 0, 0, [self.root]
        while pending:
            pid = pending.pop()
            total += _rss_kib(pid)
            proportional += _pss_kib(pid)
            pending.extend(children.get(pid, ()))
        return total, proportional


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the parent pid follows the last ')'.
    return int(text[text.rfind(b")") + 2 :].split()[1])


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0
