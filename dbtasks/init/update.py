"""`dbtasks init --update`: the services found since migrations.yaml was written, added to it. The file's own text
stays as it is, comments and hand edits included; the new services' blocks go at the end of its `services:` mapping,
and only the lines about them are said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .planned import Plan, Planned


def declared(config_file: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its services as plain YAML; ValueError naming the problem when it cannot be updated."""
    try:
        text = config_file.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except FileNotFoundError:
        raise ValueError(f"{config_file.name} does not exist: nothing to update; run dbtasks init without --update") from None
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ValueError(f"{config_file.name} cannot be read ({type(error).__name__}); fix it, then rerun --update") from None
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        raise ValueError(f"{config_file.name} has no services mapping to add to; fix it, then rerun --update")
    return text, services


def new_services(decided: Plan, root: Path, services: dict[str, Any]) -> Plan:
    """The planned services the file does not declare yet (by folder, ini section and branch), renamed where a name
    is taken, and the notes about them."""
    known = {_identity(root / str(spec.get("path", ".")), spec) for spec in services.values() if isinstance(spec, dict)}
    fresh: list[Planned] = []
    taken = set(services)
    for service in decided.services:
        spec = {"ini_section": service.scan.section, "branch": service.scan.branch}
        if service.scan.shipped:
            spec["alembic_ini"] = f"{service.scan.shipped}:alembic.ini"
        if _identity(root / service.path, spec) in known:
            continue
        name, count = service.name, 2
        while name in taken:
            name, count = f"{service.name}_{count}", count + 1
        taken.add(name)
        service.name = name
        fresh.append(service)
    labels = {service.label for service in fresh}
    # A line about a group of services speaks of the declared ones too: for a new one, its own line instead.
    notes = [note for note in decided.notes if {note.split(": ", 1)[0]} & labels]
    notes += [service.alone for service in fresh if service.alone]
    return Plan(fresh, notes)


def inserted(text: str, blocks: str) -> str:
    """`text` with `blocks` added at the end of its top-level `services:` block mapping."""
    root = yaml.compose(text)
    node = (
        next((value for key, value in root.value if isinstance(key, yaml.ScalarNode) and key.value == "services"), None)
        if isinstance(root, yaml.MappingNode)
        else None
    )
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise ValueError("migrations.yaml's services are not a block mapping (one service per indented block); add them by hand")
    lines = text.splitlines(keepends=True)
    end = min(node.end_mark.line, len(lines))
    if node.end_mark.column > 0:  # the mapping ends inside its last line (no newline at the end of the file)
        end += 1
        lines[end - 1] = lines[end - 1].rstrip("\n") + "\n"
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):  # the next key's comments
        end -= 1
    return "".join(lines[:end]) + "\n" + blocks + ("\n" if end < len(lines) else "") + "".join(lines[end:])


def _identity(folder: Path, spec: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(folder.resolve()),
        str(spec.get("ini_section") or "alembic"),
        str(spec.get("branch") or ""),
        str(spec.get("alembic_ini") or "") if ":" in str(spec.get("alembic_ini") or "") else "",
    )
