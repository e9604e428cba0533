"""The stand-ins for Python 3.10+ built-ins that the orchestrator uses on Python 3.9."""

from __future__ import annotations

import pytest

from dbtasks.compat import zip_strict


def test_zip_strict_pairs_sequences_of_one_length() -> None:
    assert list(zip_strict(["a", "b"], [1, 2])) == [("a", 1), ("b", 2)]
    assert list(zip_strict([], [])) == []


def test_zip_strict_refuses_sequences_of_different_lengths_instead_of_dropping_a_tail() -> None:
    with pytest.raises(ValueError, match="2 items against 1"):
        zip_strict(["a", "b"], [1])
