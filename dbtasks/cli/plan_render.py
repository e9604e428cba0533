"""The plan as text for a terminal and as Markdown for a pull request (a Mermaid graph of the run's order)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ..preview import counts, flags, many


def _summary(entry: Mapping[str, Any]) -> str:
    pending = entry["revisions"]
    if not pending:
        return f"{entry['state']} ({entry['current'] or 'base'})"
    count = f"{len(pending)} pending revision{'s' if len(pending) != 1 else ''}"
    return f"{count}: {entry['current'] or 'base'} -> {entry['head']}"


def _lock(taken: Mapping[str, str], code: str = "") -> str:
    return f"{taken['lock']} on {code}{taken['table']}{code} (blocks {taken['blocks']})"


def _said(revision: Mapping[str, Any]) -> str:
    return f"{revision['message']}, " if revision.get("message") else ""


def _members(names: list[str]) -> str:
    shown = ", ".join(names[:10]) + (f", ... ({len(names) - 10} more)" if len(names) > 10 else "")
    return f"{many(len(names), 'member')}: {shown}"


def _fleet_text(found: Mapping[str, Any]) -> str:
    groups = found["groups"]
    lines = [f"{found['fleet']}: {many(len(groups), 'group')} of members at the same revisions"]
    for index, group in enumerate(groups, 1):
        lines.append(f"group {index}, {_members(group['members'])}")
        lines += [f"  {line}" for line in text(group["plan"]).splitlines()]
    lines += [f"not planned: {item['target']}: {item['detail']}" for item in found["failed"]]
    return "\n".join(lines)


def _fleet_markdown(found: Mapping[str, Any]) -> str:
    groups = found["groups"]
    lines = [f"## Migration plan: fleet {found['fleet']}", "", f"{many(len(groups), 'group')} of members at the same revisions."]
    for index, group in enumerate(groups, 1):
        lines += ["", f"### Group {index}, {_members(group['members'])}", *markdown(group["plan"]).splitlines()[1:]]
    if found["failed"]:
        lines += ["", "### Not planned", "", *[f"- {item['target']}: {item['detail']}" for item in found["failed"]]]
    return "\n".join(lines)


def text(found: Mapping[str, Any]) -> str:
    if "groups" in found:
        return _fleet_text(found)
    waves = found["waves"]
    count = sum(len(wave) for wave in waves)
    lines = [f"{many(count, 'service')} in {many(len(waves), 'wave')} (a wave's services run in parallel):"]
    lines += [f"  wave {index}: {', '.join(wave)}" for index, wave in enumerate(waves, 1)]
    for entry in found["services"]:
        lines.append(f"{entry['service']}: {_summary(entry)}")
        for revision in entry["revisions"]:
            downgrade = "with a downgrade" if revision["downgrade"] else "no downgrade"
            said = f"  {revision['message']}" if revision.get("message") else ""
            lines.append(f"  {revision['revision']}{said}  {revision['file']}  ({downgrade})")
            lines += [f"    destructive: {statement}" for statement in revision["destructive"]]
            lines += [f"    lock: {_lock(taken)}" for taken in revision["locks"] if taken["blocks"]]
            lines += [
                f"    lint: {item['file']}:{item['line']}: {item['rule']}: {item['message']}" for item in revision["findings"]
            ]
            lines += [f"    | {line}" for line in revision["sql"].splitlines() if line.strip()]
        edited = (entry.get("checksums") or {}).get("edited") or []
        lines += [f"  edited since applied: {item.get('revision')} ({item.get('file')})" for item in edited]
    return "\n".join(lines)


def markdown(found: Mapping[str, Any]) -> str:
    if "groups" in found:
        return _fleet_markdown(found)
    lines = ["## Migration plan", "", "```mermaid", "graph LR"]
    waves = found["waves"]
    for index, wave in enumerate(waves, 1):
        lines.append(f'  subgraph wave{index}["wave {index}"]')
        lines += [f"    {name}" for name in wave]
        lines.append("  end")
    lines += [f"  wave{index} --> wave{index + 1}" for index in range(1, len(waves))]
    lines += ["```", "", "| service | now | pending | lint | destructive | edited |", "|---|---|---|---|---|---|"]
    for entry in found["services"]:
        counted = counts(dict(entry))
        lines.append(
            f"| {entry['service']} | {entry['current'] or 'base'} | {len(entry['revisions'])} | {counted['lint']} | "
            f"{counted['destructive']} | {counted['edited']} |"
        )
    for entry in found["services"]:
        for revision in entry["revisions"]:
            marks = flags(dict(revision))
            flagged = f" ({', '.join(marks)})" if marks else ""
            lines += [
                "",
                f"<details><summary>{escape(entry['service'])} {escape(revision['revision'])}: "
                f"{escape(_said(revision) + revision['file'])}{flagged}</summary>",
                "",
            ]
            lines += [f"- lint: `{item['rule']}` at line {item['line']}: {item['message']}" for item in revision["findings"]]
            lines += [f"- lock: {_lock(taken, '`')}" for taken in revision["locks"] if taken["blocks"]]
            sql = [line for line in revision["sql"].splitlines() if line.strip()]
            lines += ["", "```sql", *sql, "```", "", "</details>"]
    return "\n".join(lines)
