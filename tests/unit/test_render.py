"""What the tasks print, from plain values: tables, summaries, long details, JSON and JUnit XML."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from dbtasks.cli import render
from dbtasks.orchestrate import Outcome
from dbtasks.verbs import describe_applied, status_fields


def test_a_table_pads_each_column_to_its_widest_cell_and_shows_none_as_a_dash() -> None:
    text = render.table(("service", "pending"), [("users", 0), ("practices", None)])
    assert text.splitlines() == [
        "service    pending",
        "---------  -------",
        "users      0",
        "practices  -",
    ]


def test_the_summary_counts_states_and_says_a_long_failure_once_in_full_below() -> None:
    long = "migration 0002 failed: " + "x" * 80
    text = render.summary([Outcome("users", "ok", "base -> c5 (1 migration)"), Outcome("meals", "failed", long)])
    lines = text.splitlines()
    assert lines[2].split() == ["users", "ok", "base", "->", "c5", "(1", "migration)"]
    assert lines[3].split() == ["meals", "failed", "(in", "full", "below)"]  # not cut, then repeated
    assert lines[4] == f"meals: {long}"
    assert lines[5] == "1 ok, 1 failed, 0 skipped"
    assert text.count("migration 0002 failed") == 1


def test_a_passing_verify_is_one_line_and_a_failing_one_a_table_with_its_failure_whole_once() -> None:
    checks = [{"name": "history", "ok": True, "detail": "1 file"}, {"name": "lint", "ok": None, "detail": "no squawk"}]
    assert render.verify_line({"service": "users", "checks": checks}) == "users: verify ok, 1 checks passed (lint skipped)"
    long = "downgrade of 0002 fails: " + "y" * 80
    failing = {"service": "meals", "checks": [*checks, {"name": "stairway", "ok": False, "detail": long}]}
    lines = render.verify_table(failing).splitlines()
    assert lines[0] == "meals:" and lines[-1] == f"  stairway: {long}"
    assert lines[-2].split() == ["stairway", "FAILED", "(in", "full", "below)"]
    whole = render.verify_table(failing, whole=True).splitlines()
    assert whole[-1].split(None, 2) == ["stairway", "FAILED", long] and len(whole) == len(lines) - 1


def test_status_states_follow_the_revisions() -> None:
    assert status_fields({"head": ["b"], "current": ["b"], "pending": 0})["state"] == "up to date"
    assert status_fields({"head": ["b"], "current": ["a"], "pending": 1})["state"] == "behind"
    assert status_fields({"head": ["b"], "current": [], "pending": 2})["state"] == "not initialized"
    assert status_fields({"head": ["b", "c"], "current": ["a"], "pending": None})["state"] == "multiple heads"
    assert status_fields({"head": ["b"], "current": ["z"], "unknown": ["z"]})["state"] == "unknown revision"
    assert status_fields({"head": [], "current": []})["state"] == "no migrations"
    assert status_fields({"head": ["b"], "current": ["a"], "pending": 1})["current"] == "a"


def test_applied_steps_are_described_from_first_to_last() -> None:
    steps = [{"from": [], "to": ["a"]}, {"from": ["a"], "to": ["b"]}]
    assert describe_applied({"applied": steps}) == "base -> b (2 migrations)"
    assert describe_applied({"applied": [{"from": ["b"], "to": [], "stamp": True}]}) == "stamped b -> base"
    assert describe_applied({"applied": []}) == ""


def test_junit_marks_failures_skips_and_errors() -> None:
    results = [
        {
            "service": "users",
            "ok": False,
            "checks": [
                {"name": "history", "ok": True, "detail": "1 file"},
                {"name": "drift", "ok": False, "detail": "1 differences"},
                {"name": "expected-tables", "ok": None, "detail": "skipped: none"},
            ],
        },
        {"service": "meals", "ok": False, "error": "cannot connect", "checks": []},
    ]
    suites = ElementTree.fromstring(render.junit_xml(results))
    users, meals = suites.findall("testsuite")
    assert (users.get("tests"), users.get("failures"), users.get("skipped"), users.get("errors")) == ("3", "1", "1", "0")
    assert users.find("testcase[@name='drift']/failure").get("message") == "1 differences"  # type: ignore[union-attr]
    assert (meals.get("tests"), meals.get("errors")) == ("1", "1")
    assert json.loads(render.as_json({"a": [1]})) == {"a": [1]}


def test_junit_stays_well_formed_when_a_message_holds_control_characters() -> None:
    from xml.etree import ElementTree

    from dbtasks.cli.render import junit_xml

    detail = "relation \x1b[31mgone\x1b[0m\x00 dropped\x0b"
    text = junit_xml([{"service": "habits\x07", "checks": [{"name": "upgrade", "ok": False, "detail": detail}]}])
    root = ElementTree.fromstring(text.encode())  # CI's reader: raises on a character XML cannot hold
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "relation \\x1b[31mgone\\x1b[0m\\x00 dropped\\x0b"
    assert root.find("testsuite").get("name") == "habits\\x07"  # type: ignore[union-attr]


def test_a_table_cell_cannot_start_a_line_of_its_own() -> None:
    from dbtasks.cli.render import table

    assert table(("revision", "state"), [("dead\nforged", "ok\x1b[2J")]).splitlines() == [
        "revision      state",
        "------------  ---------",
        "dead\\nforged  ok\\x1b[2J",
    ]


def test_an_error_line_cannot_be_split_or_move_the_cursor_by_a_value_in_it() -> None:
    from dbtasks.cli.registry import expected_failure
    from dbtasks.errors import ConfigError, ServiceError

    error = ServiceError("habits", 'relation "x\x1b[2J\nhabits: ok" does not exist')
    assert expected_failure(error) == ('habits: relation "x\\x1b[2J\\nhabits: ok" does not exist', 1)
    assert expected_failure(ConfigError(["a: one", "b: two"])) == ("a: one\nb: two", 2)  # one line per problem stays
