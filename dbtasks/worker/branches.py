"""A service that is one branch of an Alembic environment shared with other services (Alembic's branch_labels):
its targets spelled LABEL@..., its heads, and its rows of the version table the branches share. Without a branch,
each function gives the whole environment's answer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_RELATIVE = re.compile(r"^[+-][0-9]+\Z")


def spelled(label: str | None, revision: str | None) -> str | None:
    """head -> LABEL@head, base -> LABEL@base, +1/-1 -> LABEL@+1/LABEL@-1; a revision id stays as it is."""
    if not label or revision is None:
        return revision
    if revision in ("head", "heads"):
        return f"{label}@head"
    if revision == "base" or _RELATIVE.match(revision):
        return f"{label}@{revision}"
    return revision


def heads(script: Any, label: str | None) -> list[str]:
    """The environment's heads, or the branch's."""
    if not label:
        return list(script.get_heads())
    return sorted(revision.revision for revision in script.get_revisions(f"{label}@head"))


def mine(script: Any, label: str | None, revisions: Iterable[str]) -> list[str]:
    """The branch's current revisions, from the rows of the version table the branches share: the newest of its
    revisions those rows imply (a revision another branch's row depends on is applied, and Alembic keeps no row for
    it). A row no file defines is kept: whose it is cannot be told."""
    rows = list(revisions)
    if not label:
        return rows
    known: list[str] = []
    unknown: list[str] = []
    for revision in rows:
        try:
            (known if script.get_revision(revision) is not None else unknown).append(revision)
        except Exception:  # a revision no file defines
            unknown.append(revision)
    implied = script.revision_map._get_ancestor_nodes(script.get_revisions(known), include_dependencies=True)
    ours = {revision.revision: revision for revision in implied if label in revision.branch_labels}
    below = {down for revision in ours.values() for down in revision._all_down_revisions}
    return sorted(name for name in ours if name not in below) + unknown
