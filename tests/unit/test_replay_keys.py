"""Which command lines a no-op's replay may answer (dbtasks/replay.py), keyed alike through `dbtasks` and `inv`."""

from __future__ import annotations

import pytest

from dbtasks.replay import command, command_of


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["upgrade-all"], ["upgrade-all"]),
        (["db.upgrade-all"], ["upgrade-all"]),
        (["status"], ["status"]),
        (["status", "--json"], ["status", "--json"]),
        (["current", "users"], ["current", "users"]),
        (["current", "users", "--json"], None),  # current takes no --json
        (["upgrade", "users"], ["upgrade", "users"]),
        (["upgrade"], None),  # no service: Spec.parse says what is missing
        (["current"], None),
        (["status", "--json", "--json"], None),
        (["upgrade-all", "--json"], None),
        (["upgrade-all", "--only", "users"], None),
        (["upgrade", "users", "--to", "head"], None),  # the wrapper keys it, once parsed
        (["current", "--service", "users"], None),
        (["current", "users", "meals"], None),
        (["downgrade", "users"], None),
        ([], None),
    ],
)
def test_a_command_line_is_keyed_only_in_the_forms_a_replay_answers(argv: list[str], key: list[str] | None) -> None:
    assert command_of(argv) == key


@pytest.mark.parametrize(
    ("task", "changed", "key"),
    [
        ("status", {}, ["status"]),
        ("status", {"json_": True}, ["status", "--json"]),
        ("status", {"json_": True, "only": "users"}, None),
        ("status", {"env": "production"}, None),
        ("upgrade", {"service": "users"}, ["upgrade", "users"]),
        ("upgrade", {"service": "users", "to": "-1"}, None),
        ("upgrade", {}, None),  # a key without the service would stand for every service
        ("current", {"service": 3}, None),
        ("verify-all", {}, None),
    ],
)
def test_options_changed_from_their_defaults_key_a_run_or_make_it_unreplayable(
    task: str, changed: dict[str, object], key: list[str] | None
) -> None:
    assert command(task, changed) == key
