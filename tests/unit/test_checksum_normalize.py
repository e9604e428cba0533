"""The checksum of a revision file: line endings and trailing whitespace never count, anything else does; the verdict
on applied revisions against the recorded rows."""

from __future__ import annotations

import hashlib

import pytest

from dbtasks.worker.checksums import checksum, judge, normalize

TEXT = b'"""add color"""\nrevision = "1a2b"\n\n\ndef upgrade():\n    op.add_column("t", sa.Column("c", sa.Text()))\n'


@pytest.mark.parametrize(
    "variant",
    [
        TEXT.replace(b"\n", b"\r\n"),  # Windows line endings
        TEXT.replace(b"\n", b"\r"),  # old Mac line endings
        TEXT.replace(b"\n", b"  \t\n"),  # trailing whitespace on every line
        TEXT + b"\n\n   \n\t\n",  # trailing blank lines
        TEXT.rstrip(b"\n"),  # no final newline
        TEXT.replace(b"\n", b" \r\n") + b"\r\n\r\n",  # all of it at once
    ],
    ids=["crlf", "cr", "trailing-spaces", "trailing-blank-lines", "no-final-newline", "all"],
)
def test_line_endings_and_trailing_whitespace_do_not_count(variant: bytes) -> None:
    assert normalize(variant) == normalize(TEXT)
    assert checksum(variant) == checksum(TEXT)


@pytest.mark.parametrize(
    "variant",
    [
        TEXT + b"# a comment\n",  # a line added
        TEXT.replace(b'"c"', b'"d"'),  # a name changed
        TEXT.replace(b"    op.", b"  op."),  # leading whitespace is Python's syntax
        b"\n" + TEXT,  # a leading blank line
        TEXT.replace(b"\n\n\n", b"\n\n"),  # an inner blank line removed
    ],
    ids=["line-added", "name-changed", "indentation", "leading-blank-line", "inner-blank-line"],
)
def test_any_other_change_counts(variant: bytes) -> None:
    assert checksum(variant) != checksum(TEXT)


def test_the_checksum_is_sha256_of_the_normalized_text() -> None:
    expected = TEXT.rstrip(b"\n")
    assert normalize(TEXT) == expected
    assert checksum(TEXT) == hashlib.sha256(expected).hexdigest()
    assert normalize(b"") == b"" and normalize(b"\r\n \n") == b""


def test_judge_sorts_applied_revisions_into_ok_edited_unknown_unrecorded_and_missing() -> None:
    sums = {"/s/a.py": "A", "/s/b.py": "B2", "/s/c.py": "C", "/s/d.py": "D"}
    recorded = {
        "a": {"checksum": "A", "file": "a.py"},
        "b": {"checksum": "B1", "file": "b.py"},
        "gone": {"checksum": "G", "file": "gone.py"},
        "later": {"checksum": "L", "file": "later.py"},  # defined by a file, not applied (stamped down): not listed
    }
    # c was applied before recording began (unknown); d after it, yet has no row: its row was deleted (unrecorded)
    applied = [("c", "/s/c.py"), ("a", "/s/a.py"), ("b", "/s/b.py"), ("d", "/s/d.py")]
    found = judge(applied, recorded, lambda revision: revision != "gone", sums.get, "/s")
    assert [(entry["revision"], entry["state"]) for entry in found["revisions"]] == [
        ("c", "unknown"),
        ("a", "ok"),
        ("b", "edited"),
        ("d", "unrecorded"),
        ("gone", "missing"),
    ]
    assert found["edited"] == [{"revision": "b", "file": "b.py"}, {"revision": "d", "file": "d.py", "unrecorded": True}]
    assert found["missing"] == [{"revision": "gone", "file": "gone.py"}]
    assert found["unknown"] == ["c"] and found["table"] is True
    no_table = judge(applied, None, lambda revision: True, sums.get, "/s")
    assert no_table["unknown"] == ["c", "a", "b", "d"] and no_table["edited"] == [] and no_table["table"] is False
