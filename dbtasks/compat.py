"""What the orchestrator needs from Python 3.10+ and writes itself, since it runs on Python 3.9."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

First = TypeVar("First")
Second = TypeVar("Second")


def zip_strict(first: Sequence[First], second: Sequence[Second]) -> Iterator[tuple[First, Second]]:
    """zip(first, second, strict=True) of Python 3.10: pairs that never silently drop the longer one's tail."""
    if len(first) != len(second):
        raise ValueError(f"zip_strict: {len(first)} items against {len(second)}")
    return zip(first, second)
