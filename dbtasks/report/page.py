"""The report as one self-contained HTML file: the style inline, the graphs inline SVG, no script, no font, no link to
anything outside it, so it opens the same from a mail attachment, a CI artifact or a folder with no network."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from ..preview import flags, many
from .document import state_mark
from .svg import COLOURS, svg

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1b1b1b; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: #555; margin-bottom: 16px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
code, pre { font-family: monospace; font-size: 12px; }
pre { background: #fff; border: 1px solid #ddd; padding: 8px; overflow-x: auto; }
figure { margin: 8px 0 16px; overflow-x: auto; } figcaption { color: #555; font-size: 12px; }
.revisions { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.revisions figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 4px 8px; max-width: 100%; }
.counts span { display: inline-block; margin-right: 12px; padding: 2px 8px; border-radius: 4px; }
.matrix td, .matrix th { padding: 1px 6px; font-size: 12px; white-space: nowrap; }
.strip { display: flex; flex-wrap: wrap; gap: 2px; margin: 2px 0 10px; max-width: 1100px; }
.strip span { width: 12px; height: 12px; border-radius: 2px; outline: 1px solid #0002; }
.wrap { max-height: 70vh; overflow: auto; display: inline-block; border: 1px solid #ddd; }
.flag { color: #b71c1c; font-weight: 600; }
details { margin: 4px 0; } summary { cursor: pointer; }
"""
_NAMES = {"up to date": "up to date", "behind": "behind", "failed": "failed"}


def html(document: Mapping[str, Any]) -> str:
    """The whole page of a project's or a fleet's report document (report.document)."""
    fleet = document.get("fleet")
    title = f"Migrations of {document['project']}" + (f": fleet {fleet['name']}" if fleet else "")
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">environment {escape(document["environment"])} · generated {escape(document["generated"])}</p>',
        *(_fleet(fleet) if fleet else _status(document["services"])),
        *_services(document["graph"]),
        *([] if fleet else _plan(document["plan"])),
        *_revisions(document["revisions"]),
        *(_verify(document["verify"]) if document.get("verify") is not None else []),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
            *body,
            "</body></html>",
        ]
    )


def _cell(mark: str, text: str, detail: str = "", attributes: str = "") -> str:
    fill, ink = COLOURS.get(mark, ("#ffffff", "#1b1b1b"))
    hover = f' title="{escape(detail)}"' if detail else ""
    return f'<td style="background:{fill};color:{ink}"{hover}{attributes}>{escape(text)}</td>'


def _counts(states: Iterable[str]) -> str:
    counted = Counter(state_mark(state) for state in states)
    spans = [
        f'<span style="background:{COLOURS[mark][0]}">{escape(_NAMES[mark])}: {counted[mark]}</span>'
        for mark in _NAMES
        if counted[mark]
    ]
    return f'<p class="counts">{"".join(spans)}</p>'


def _status(rows: list[Mapping[str, Any]]) -> list[str]:
    lines = ["<h2>Status</h2>", _counts(row["state"] for row in rows), '<table id="status">']
    lines.append(
        "<tr><th>service</th><th>database</th><th>schema</th><th>state</th><th>current</th><th>head</th>"
        "<th>pending</th><th>edited files</th></tr>"
    )
    for row in rows:
        edited = len((row.get("checksums") or {}).get("edited") or [])
        pending = "" if row.get("pending") is None else str(row["pending"])
        lines.append(
            f'<tr data-service="{escape(row["service"])}" data-state="{escape(row["state"])}">'
            f"<td>{escape(row['service'])}</td><td>{escape(str(row['database']))}</td><td>{escape(str(row['schema']))}</td>"
            + _cell(state_mark(row["state"]), row["state"])
            + f"<td><code>{escape(row['current'] or '')}</code></td><td><code>{escape(row['head'] or '')}</code></td>"
            f"<td>{pending}</td>" + (f'<td class="flag">{edited}</td>' if edited else "<td>0</td>") + "</tr>"
        )
    return [*lines, "</table>"]


def _fleet(fleet: Mapping[str, Any]) -> list[str]:
    names = fleet["services"]
    members = fleet["members"]
    cells = {(member["target"], name): _fleet_cell(member, name) for member in members for name in names}
    lines = [
        f"<h2>Fleet {escape(fleet['name'])}: {many(len(members), 'member')}, {many(len(names), 'service')}</h2>",
        _counts(_member_state(member) for member in members),
        '<div id="fleet-overview">',
    ]
    for name in names:  # a square per member: the whole fleet at a glance, its member and state on hover
        squares = "".join(
            f'<span data-member="{escape(member["target"])}" data-state="{escape(cells[member["target"], name][0])}" '
            f'title="{escape(member["target"])}: {escape(cells[member["target"], name][2])}" '
            f'style="background:{COLOURS.get(state_mark(cells[member["target"], name][0]), ("#fff", ""))[0]}"></span>'
            for member in members
        )
        lines += [f"<h3>{escape(name)}</h3>", f'<div class="strip" data-service="{escape(name)}">{squares}</div>']
    lines += [
        "</div>",
        "<details><summary>every member and service, as a table</summary>",
        '<div class="wrap"><table id="fleet" class="matrix">',
        "<tr><th>member</th>" + "".join(f"<th>{escape(name)}</th>" for name in names) + "</tr>",
    ]
    for member in members:
        row = []
        for name in names:
            state, shown, detail = cells[member["target"], name]
            extra = f' data-service="{escape(name)}" data-state="{escape(state)}"'
            row.append(_cell(state_mark(state), shown, detail, extra))
        lines.append(
            f'<tr data-member="{escape(member["target"])}" data-state="{escape(member["state"])}">'
            f"<td>{escape(member['target'])}</td>{''.join(row)}</tr>"
        )
    return [*lines, "</table></div></details>"]


def _fleet_cell(member: Mapping[str, Any], name: str) -> tuple[str, str, str]:
    """(state, what the cell says, its detail) of one service on one member."""
    row = {found["service"]: found for found in member.get("services") or []}.get(name)
    if row is None:  # the member could not be read at all
        return "error", str(member["state"]), str(member.get("detail") or member["state"])
    state = str(row["state"])
    shown = f"{row['pending']} behind" if state == "behind" and row.get("pending") else state
    return state, shown, f"{name}: {state}, at {row.get('current') or 'base'}"


def _member_state(member: Mapping[str, Any]) -> str:
    return {"up to date": "up to date", "behind": "behind"}.get(member["state"], "error")


def _legend(marks: Iterable[str]) -> str:
    spans = [f'<span style="background:{COLOURS[mark][0]};color:{COLOURS[mark][1]}">{escape(mark)}</span>' for mark in marks]
    return f'<p class="counts">{"".join(spans)}</p>'


def _services(graph: Mapping[str, Any]) -> list[str]:
    return [
        "<h2>Services</h2>",
        '<figure id="services-graph">',
        svg(graph["nodes"], [tuple(edge) for edge in graph["edges"]], graph["marks"], title="services", prefix="services"),
        "<figcaption>an arrow from a service to one that depends on it (and runs after it)</figcaption></figure>",
    ]


def _revisions(drawings: Mapping[str, Mapping[str, Any]]) -> list[str]:
    marked = any(drawing["marks"] for drawing in drawings.values())
    lines = [
        "<h2>Revisions</h2>",
        _legend(("current", "applied", "pending")) if marked else "<p>each member is at its own revisions</p>",
        '<div class="revisions">',
    ]
    for index, (name, drawing) in enumerate(drawings.items()):
        lines += [
            f'<figure id="revisions-{escape(name)}" data-service="{escape(name)}"><figcaption>{escape(name)}</figcaption>',
            f'<p class="flag">{escape(drawing["error"])}</p>'
            if drawing.get("error")
            else svg(
                drawing["nodes"], [tuple(edge) for edge in drawing["edges"]], drawing["marks"], title=name, prefix=f"r{index}"
            ),
            "</figure>",
        ]
    return [*lines, "</div>"]


def _plan(plan: Mapping[str, Any]) -> list[str]:
    waves = plan["waves"]
    lines = ["<h2>Plan: what upgrade-all would do now</h2>", '<ol id="waves">']
    lines += [f"<li>wave {index}: {escape(', '.join(wave))}</li>" for index, wave in enumerate(waves, 1)]
    lines.append("</ol>")
    for entry in plan["services"]:
        name = escape(entry["service"])
        if entry.get("error"):
            lines.append(f'<p data-plan="{name}" class="flag">{name}: {escape(entry["error"])}</p>')
            continue
        if not entry["revisions"]:
            lines.append(f'<p data-plan="{name}">{name}: nothing to run ({escape(str(entry["state"]))})</p>')
            continue
        lines.append(
            f'<h3 data-plan="{name}">{name}: {len(entry["revisions"])} pending, '
            f"{escape(entry['current'] or 'base')} → {escape(str(entry['head']))}</h3>"
        )
        for revision in entry["revisions"]:
            risks = flags(dict(revision))
            flagged = f' <span class="flag">{escape(", ".join(risks))}</span>' if risks else ""
            lines += [
                f'<details data-revision="{escape(revision["revision"])}"><summary><code>{escape(revision["revision"])}'
                f"</code> {escape(revision.get('message') or '')} <small>{escape(revision['file'])}</small>{flagged}</summary>",
                *[f"<p>destructive: <code>{escape(statement)}</code></p>" for statement in revision["destructive"]],
                *[
                    f"<p>lock {escape(taken['lock'])} on <code>{escape(taken['table'])}</code> (blocks {escape(taken['blocks'])}): "
                    f"<code>{escape(taken['statement'])}</code></p>"
                    for taken in revision["locks"]
                    if taken["blocks"]
                ],
                *[
                    f"<p>lint <code>{escape(item['rule'])}</code> at line {item['line']}: {escape(item['message'])}</p>"
                    for item in revision["findings"]
                ],
                f"<pre>{escape(revision['sql'])}</pre></details>",
            ]
    return lines


def _verify(results: list[Mapping[str, Any]]) -> list[str]:
    lines = ["<h2>Verify</h2>", '<table id="verify"><tr><th>service</th><th>check</th><th>result</th><th>detail</th></tr>']
    for result in results:
        name = escape(result["service"])
        if result.get("error"):
            lines.append(
                f'<tr data-service="{name}"><td>{name}</td><td></td>{_cell("failed", "failed")}'
                f"<td>{escape(result['error'])}</td></tr>"
            )
        for check in result.get("checks") or []:
            verdict = {True: ("up to date", "passed"), False: ("failed", "failed")}.get(check["ok"], ("", "skipped"))
            lines.append(
                f'<tr data-service="{name}" data-check="{escape(check["name"])}" data-result="{verdict[1]}"><td>{name}</td>'
                f"<td>{escape(check['name'])}</td>{_cell(verdict[0], verdict[1])}<td>{escape(str(check.get('detail') or ''))}</td></tr>"
            )
    return [*lines, "</table>"]
