"""A stable share of a fleet for one of N runners (`--shard I/N`, `--shard auto`): a member belongs to shard
sha256(name) mod N + 1, so a member's shard depends on its name and N only, never on the other members."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import UsageError
from ..settings import digits

T = TypeVar("T")

# The variables `--shard auto` reads, first pair set wins: (index, count, whether the index counts from 0).
AUTO = (
    ("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", True),  # Kubernetes Indexed Job (JOB_COMPLETIONS: set it from .spec.completions)
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", False),  # GitLab CI `parallel:`
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", True),  # CircleCI `parallelism:`
    ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", True),  # Buildkite `parallelism:`
)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based)."""

    index: int = 1
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, name: str) -> bool:
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def share(self, items: Sequence[T], name: Callable[[T], str] = str) -> list[T]:
        """The items of this shard, in their order; `name` gives an item's name."""
        return [item for item in items if self.holds(name(item))]


def parse(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """--shard: `I/N` (1 <= I <= N), or `auto` (from the variables of AUTO); empty: the whole fleet."""
    if not text:
        return Shard()
    if text == "auto":
        return _auto(os.environ if environ is None else environ)
    index, slash, count = text.partition("/")
    if slash and digits(index) and digits(count) and 1 <= int(index) <= int(count):
        return Shard(int(index), int(count))
    raise UsageError(f"--shard: expected I/N with 1 <= I <= N (e.g. 2/5) or auto, got {text!r}")


def _auto(environ: Mapping[str, str]) -> Shard:
    for index_name, count_name, from_zero in AUTO:
        index, count = environ.get(index_name, ""), environ.get(count_name, "")
        if not index and not count:
            continue
        if digits(index) and digits(count):
            number = int(index) + (1 if from_zero else 0)
            if 1 <= number <= int(count):
                return Shard(number, int(count))
        raise UsageError(f"--shard auto: {index_name}={index!r} and {count_name}={count!r} do not make a shard; fix them")
    names = ", ".join(f"{index}/{count}" for index, count, _ in AUTO)
    raise UsageError(f"--shard auto: none of {names} is set; give --shard I/N")
