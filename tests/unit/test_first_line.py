"""The first line of a failure, as every task shows it: the server's message, not the drivers' wrappers."""

from __future__ import annotations

import pytest

from dbtasks.worker.failures import first_line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "(psycopg2.errors.QueryCanceled) canceling statement due to statement timeout",
            "canceling statement due to statement timeout",
        ),
        (
            "(sqlalchemy.dialects.postgresql.asyncpg.Error) <class 'asyncpg.exceptions.QueryCanceledError'>: "
            "canceling statement due to statement timeout\n[SQL: SELECT pg_sleep(30)]",
            "canceling statement due to statement timeout",
        ),
        ("plain words", "RuntimeError: plain words"),
    ],
    ids=["psycopg2", "asyncpg-sqlalchemy-2.0", "other"],
)
def test_first_line_keeps_the_servers_message(text: str, shown: str) -> None:
    assert first_line(RuntimeError(text)) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("No 'script_location' key found in configuration.", "No 'script_location' key found in configuration"),
        ('relation "x" does not exist\n  LINE 1: ...;', 'relation "x" does not exist LINE 1'),
        ("...", "..."),  # nothing but punctuation: kept as it is
    ],
)
def test_another_programs_words_lose_their_sentence_end_inside_ours(text: str, shown: str) -> None:
    from dbtasks.explain import quoted

    assert quoted(text) == shown
