"""--shard I/N and --shard auto: shards 1..N of a fleet cover every member exactly once, and a member keeps its
shard when the fleet grows."""

from __future__ import annotations

import hashlib

import pytest

from dbtasks.errors import UsageError
from dbtasks.fleet.shard import AUTO, Shard, parse


def fleet(size: int) -> list[str]:
    return [f"tenant_{number:04d}" for number in range(size)]


@pytest.mark.parametrize("count", [1, 3, 7])
@pytest.mark.parametrize("size", [0, 1, 5, 50, 500])
def test_shards_cover_every_member_exactly_once(count: int, size: int) -> None:
    members = fleet(size)
    shares = [Shard(index, count).share(members) for index in range(1, count + 1)]
    assert sorted(name for share in shares for name in share) == sorted(members)
    assert sum(len(share) for share in shares) == size
    for share in shares:  # each share keeps the fleet's order
        assert share == [name for name in members if name in share]


@pytest.mark.parametrize("count", [3, 7])
def test_a_member_keeps_its_shard_when_the_fleet_grows(count: int) -> None:
    before = {name: index for index in range(1, count + 1) for name in Shard(index, count).share(fleet(100))}
    after = {name: index for index in range(1, count + 1) for name in Shard(index, count).share(fleet(1000))}
    assert all(after[name] == index for name, index in before.items())
    assert len(after) == 1000


def test_shares_are_roughly_even() -> None:
    sizes = [len(Shard(index, 7).share(fleet(7000))) for index in range(1, 8)]
    assert min(sizes) > 800 and max(sizes) < 1200, sizes


def test_the_shard_is_a_function_of_the_name_only() -> None:
    # sha256("tenant_0000") mod 3, written down: a change of hash would move every member of every deployed fleet.
    assert [index for index in (1, 2, 3) if Shard(index, 3).holds("tenant_0000")] == [
        int.from_bytes(hashlib.sha256(b"tenant_0000").digest()[:8], "big") % 3 + 1
    ]


@pytest.mark.parametrize(
    ("text", "shard"),
    [("", Shard(1, 1)), ("1/1", Shard(1, 1)), ("2/5", Shard(2, 5)), ("5/5", Shard(5, 5))],
)
def test_parse(text: str, shard: Shard) -> None:
    assert parse(text, {}) == shard


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "2", "a/b", "1/3/5", "-1/3", " 1/3"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--shard: expected I/N with 1 <= I <= N \(e.g. 2/5\) or auto, got "):
        parse(text, {})


@pytest.mark.parametrize(
    ("environ", "shard"),
    [
        ({"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "4"}, Shard(1, 4)),  # Kubernetes Indexed Job: from 0
        ({"JOB_COMPLETION_INDEX": "3", "JOB_COMPLETIONS": "4"}, Shard(4, 4)),
        ({"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, Shard(2, 3)),  # GitLab parallel: from 1
        ({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "2"}, Shard(1, 2)),  # CircleCI: from 0
        ({"BUILDKITE_PARALLEL_JOB": "4", "BUILDKITE_PARALLEL_JOB_COUNT": "5"}, Shard(5, 5)),  # Buildkite: from 0
        ({"JOB_COMPLETION_INDEX": "1", "JOB_COMPLETIONS": "2", "CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "9"}, Shard(2, 2)),
    ],
)
def test_auto_reads_the_job_index(environ: dict[str, str], shard: Shard) -> None:
    assert parse("auto", environ) == shard


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"JOB_COMPLETION_INDEX": "4", "JOB_COMPLETIONS": "4"},
            "JOB_COMPLETION_INDEX='4' and JOB_COMPLETIONS='4' do not make a shard",
        ),
        ({"JOB_COMPLETION_INDEX": "1"}, "JOB_COMPLETION_INDEX='1' and JOB_COMPLETIONS='' do not make a shard"),
        ({"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"}, "CI_NODE_INDEX='0' and CI_NODE_TOTAL='3' do not make a shard"),
        ({"CI_NODE_INDEX": "\u00b2", "CI_NODE_TOTAL": "3"}, "CI_NODE_INDEX='\u00b2' and CI_NODE_TOTAL='3' do not make a shard"),
        ({}, "none of " + ", ".join(f"{index}/{count}" for index, count, _ in AUTO) + " is set"),
    ],
)
def test_auto_refuses_what_makes_no_shard(environ: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse("auto", environ)
    assert str(raised.value).startswith(f"--shard auto: {message}"), raised.value
