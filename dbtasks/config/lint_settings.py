"""migrations.yaml's `lint:` (top level, and per service): read with line numbers, layered on dbtasks' defaults."""

from __future__ import annotations

import re
from typing import Any, Protocol

import yaml

from ..lint.rules import LintRules, unknown_rule

KEYS = ("exclude", "include", "pg_version")
EXPECTED = "expected a mapping (exclude: [rule, ...], include: [rule, ...], pg_version: 16)"
PG_VERSION = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,2})?\Z")


class Loader(Protocol):
    """What of config._Loader this module uses: its problem list, its key check and its value reader."""

    def problem(self, node: yaml.Node | None, where: str, message: str) -> None: ...

    def mapping(self, node: yaml.MappingNode, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]: ...

    def value(self, node: yaml.Node) -> Any: ...


def layer(loader: Loader, node: yaml.Node | None, where: str, below: LintRules) -> LintRules:
    """`below` with the `lint:` mapping at `node` on top; each problem is reported on its own line."""
    if node is None:
        return below
    if not isinstance(node, yaml.MappingNode):
        loader.problem(node, where, f"{EXPECTED}, got {loader.value(node)!r}")
        return below
    lists: dict[str, list[str]] = {"exclude": [], "include": []}
    pg_version = None
    for key, (_, value_node) in loader.mapping(node, where, KEYS).items():
        if key == "pg_version":
            value = loader.value(value_node)
            if isinstance(value, (int, float, str)) and not isinstance(value, bool) and PG_VERSION.match(str(value)):
                pg_version = str(value)
            else:
                loader.problem(
                    value_node, f"{where}.pg_version", f"expected a PostgreSQL major version such as 16 or 13.4, got {value!r}"
                )
            continue
        if key not in lists:
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            loader.problem(value_node, f"{where}.{key}", f"expected a list of squawk rules, got {loader.value(value_node)!r}")
            continue
        for item in value_node.value:
            name = loader.value(item)
            problem = unknown_rule(name)
            if problem is not None:
                loader.problem(item, f"{where}.{key}", problem)
            else:
                lists[key].append(name)
    for rule in lists["exclude"]:
        if rule in lists["include"]:
            loader.problem(node, where, f"{rule!r} is both excluded and included; keep it in one list")
    return below.layered(lists["exclude"], lists["include"], pg_version)
