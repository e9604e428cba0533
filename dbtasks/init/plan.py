"""What `dbtasks init` decides from the services' scans: names, driver, schemas, database, version table, URL
variables, dependencies; and a line for each thing it could not decide.

Runs in the orchestrator: standard library only, Python 3.9 syntax.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config.keys import own_version_table
from . import databases
from .planned import Plan, Planned
from .scan import UNKNOWN, ServiceScan
from .url_plan import decide_url

# The other way for services that share a version table's place; the command line replaces it with the one the user
# ran, --one-database added (cli/init_command.py).
ONE_DATABASE = "dbtasks init --force --one-database (it writes migrations.yaml and tasks.py anew)"
_GENERIC_FOLDERS = ("alembic", "migrations", "migration", "db", "database", "schema")


def plan(root: Path, scans: list[ServiceScan], one_database: bool = False) -> Plan:
    """Decide every service's entry; `scans` are in folder order. `one_database`: services that keep their version
    tables in the same place stay in one database, each with a version table of its own (else a database each)."""
    notes: list[str] = []
    names = _names([scan.folder for scan in scans], [scan.branch or scan.section for scan in scans])
    services = [
        Planned(
            name=names[index],
            label=(f"package {scan.shipped}" if scan.shipped else _label(root, scan.folder))
            + (f" [{scan.section}]" if scan.section != "alembic" else "")
            + (f" branch {scan.branch}" if scan.branch else ""),
            path="." if scan.shipped else _label(root, scan.folder),  # an installed package's env.py runs from here
            scan=scan,
        )
        for index, scan in enumerate(scans)
    ]
    for service in services:
        if not service.scan.env_parsed and service.scan.package and service.scan.env_py is None:
            notes.append(
                f"{service.label}: its migrations are in package {service.scan.package} (script_location), which is not "
                "importable here: run dbtasks init with the package installed (or on PYTHONPATH) to read its env.py and "
                f"revisions; check driver and schema in services.{service.name}"
            )
        elif not service.scan.env_parsed:
            notes.append(f"{service.label}: init could not read its env.py; check driver and schema in services.{service.name}")
        _decide_driver(service, notes)
        decide_url(service, notes)
        x_names = sorted(name for name in service.scan.x_names if name)
        if service.scan.x_names:
            shown = ", ".join(f"{name}: VALUE" for name in x_names) or "NAME: VALUE"
            notes.append(
                f"{service.label}: env.py reads Alembic's -x arguments ({', '.join(x_names) or 'names init cannot see'}); "
                f"give them with x: {{{shown}}} in services.{service.name}"
            )
        if service.scan.unresolved:
            notes.append(
                f"{service.label}: env.py imports {', '.join(service.scan.unresolved)}, which init found neither in the repository nor installed for "
                f"the interpreter that will run it; install {'them' if len(service.scan.unresolved) > 1 else 'it'} "
                f"there, or add the folder holding {'them' if len(service.scan.unresolved) > 1 else 'it'} to "
                f"services.{service.name}.pythonpath"
            )
        service.python = service.scan.python
        if service.python:
            service.comments.append(f"its own interpreter: {service.python} beside alembic.ini")
    primaries = {service.name: _decide_schema(service, notes) for service in services}
    for service in services:
        _decide_extra_schemas(service, primaries)
        _decide_version_table(service, notes)
    for service in services:  # multidb: a database per engine, the lock in the first
        if service.scan.databases:
            service.database = f"{service.name}_{service.scan.databases[0]}"
            notes.append(
                f"{service.label}: its env.py drives several databases ({', '.join(service.scan.databases)}); each got a "
                f"database named by init in services.{service.name}.engines: put your databases' names there"
            )
    _decide_databases([service for service in services if not service.scan.databases], notes, root, one_database)
    _decide_dependencies(services)
    _decide_extensions(services)
    for service in services:
        if service.scan.no_models:
            service.comments.append("no models (target_metadata = None): check passes it; generate needs --empty")
        if service.scan.include_object:
            service.comments.append("env.py's include_object filter still applies to check and generate")
    found = [f"{service.name} -> {', '.join(service.depends_on)}" for service in services if service.depends_on]
    notes.append(
        "depends_on and expect_tables: init took depends_on from the migrations (foreign keys, extensions, tables two "
        f"services create) ({'; '.join(found) if found else 'none found'}); add the others, and uncomment expect_tables for verify"
        " to check them (docs/configuration.md)"
    )
    return Plan(services, notes)


def _names(folders: list[Path], sections: list[str]) -> list[str]:
    """Each service named after its folder (without a `_service`, `-service` or `service-` affix), or its ini section
    (alembic -n NAME) when it has one of its own (lowercase letters, digits, - and _), made unique."""

    def clean(text: str) -> str:
        name = re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_-")
        return name if name[:1].isalpha() else f"service_{name}".rstrip("_")

    def named(folder: Path, parents: int) -> str:
        parts = folder.resolve().parts
        while len(parts) > 1 and parts[-1].lower() in _GENERIC_FOLDERS:
            parts = parts[:-1]
        return clean("_".join(parts[len(parts) - 1 - parents :]))

    names = [clean(section) if section != "alembic" else named(folder, 0) for folder, section in zip(folders, sections)]
    for parents in (1, 2):
        clashing = {name for name in names if names.count(name) > 1}
        names = [
            named(folders[index], parents) if name in clashing and sections[index] == "alembic" else name
            for index, name in enumerate(names)
        ]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    # As users type them: habits_service, habits-service, service-habits -> habits (unless that name is taken).
    short = [_spoken(name) if section == "alembic" else name for name, section in zip(unique, sections)]
    return [
        name if short.count(name) == 1 and name not in unique[:i] + unique[i + 1 :] else unique[i] for i, name in enumerate(short)
    ]


def _spoken(name: str) -> str:
    short = re.sub(r"^service[_-]|[_-](service|svc)$", "", name)
    return short if short[:1].isalpha() else name


def _label(root: Path, folder: Path) -> str:
    relative = folder.resolve().relative_to(root.resolve()).as_posix()
    return relative if relative != "." else "."


def _decide_driver(service: Planned, notes: list[str]) -> None:
    scan, where = service.scan, f"services.{service.name}.driver"
    dependencies, engines = scan.dependencies, scan.engines
    if len(scan.literal_drivers) == 1:
        service.driver = next(iter(scan.literal_drivers))
        service.comments.append(f"driver: env.py names postgresql+{service.driver}")
        return
    if engines == {"async"}:
        service.driver = "psycopg" if "psycopg" in dependencies and "asyncpg" not in dependencies else "asyncpg"
        service.comments.append(f"driver: env.py builds an async engine ({service.driver})")
        return
    if engines == {"sync"}:
        sync = [driver for driver in ("psycopg2", "psycopg") if driver in dependencies or driver == scan.ini_driver]
        service.driver = sync[0] if len(sync) == 1 else "psycopg2"
        service.comments.append(f"driver: env.py builds a sync engine ({service.driver})")
        return
    named = sorted(dependencies | ({scan.ini_driver} if scan.ini_driver else set()))
    service.driver = named[0] if len(named) == 1 else "psycopg2"
    if engines:
        why = "env.py builds a sync or an async engine depending on the URL"
        hint = f"set {where} to asyncpg to run it async"
    else:
        why = "env.py does not say which driver it uses" if scan.env_parsed else "init did not read env.py"
        hint = f"check {where}"
    service.comments.append(f"driver: a guess ({why}); check it")
    notes.append(f"{service.label}: {why}; driver: {service.driver} is a guess: {hint}")


def _decide_schema(service: Planned, notes: list[str]) -> str:
    """Where its version table lives: version_table_schema when env.py passes one, else public."""
    scan = service.scan
    found = scan.version_table_schema if scan.env_parsed else UNKNOWN
    if found is None:
        service.version_source = "env.py passes no version_table_schema"
        return "public"
    if found != UNKNOWN:
        service.version_source = f"env.py passes version_table_schema={found!r}"
        return found
    created = sorted({schema for schema, _ in scan.created if schema})
    named = created or sorted(scan.model_schemas)
    guess = named[0] if len(named) == 1 else service.name
    source = "the schema its migrations use" if created else "the schema its models use" if named else "its folder name"
    said = "env.py computes its version table's schema" if scan.env_parsed else "init did not read env.py"
    service.version_source = f"{said}: a guess from {source}; check it"
    notes.append(f"{service.label}: {said}; schema: {guess} is a guess ({source}): check services.{service.name}.schema")
    return guess


def _decide_extra_schemas(service: Planned, primaries: dict[str, str]) -> None:
    """The schemas its migrations create tables in (else its models name), less other services' own schemas."""
    scan, primary = service.scan, primaries[service.name]
    others = {schema for name, schema in primaries.items() if name != service.name and schema != "public"}
    named = sorted({schema for schema, _ in scan.created if schema}) or sorted(scan.model_schemas)
    extra = [schema for schema in named if schema != primary and schema not in others]
    service.schemas = [primary, *extra]
    if extra:
        service.comments.append(f"its tables are also in {', '.join(extra)} (schemas:)")
    tables = [table if schema in (None, primary) else f"{schema}.{table}" for schema, table in sorted(scan.created, key=str)]
    service.expect_tables = tables


def _decide_version_table(service: Planned, notes: list[str]) -> None:
    found = service.scan.version_table if service.scan.env_parsed else None
    schema, table = service.version_key
    if found == UNKNOWN:
        service.comments.append(f"version table in {schema}: {service.version_source}; env.py computes its name")
        notes.append(
            f"{service.label}: env.py computes its version table name; add version_table: <name> to services.{service.name}"
        )
        return
    if found and found != "alembic_version":
        service.version_table = found
        service.version_source += f" and version_table={found!r}"
    service.comments.append(f"version table {schema}.{table}: {service.version_source}")


def _decide_databases(services: list[Planned], notes: list[str], root: Path, one_database: bool) -> None:
    """Services that would keep their version tables in the same place get a database each, named as their files name
    it (databases.named), else after the service; with `one_database` they stay in one and each gets a version table
    of its own instead. The branches of one environment keep theirs in its one version table (a row each), so they
    share one database, named after its folder. One line per such group says what was done and the other way."""
    groups: dict[tuple[str, str], dict[tuple[Path, str], list[Planned]]] = {}
    for service in services:
        environment = (service.scan.ini, service.scan.section if service.scan.branch else service.name)
        groups.setdefault(service.version_key, {}).setdefault(environment, []).append(service)
    for (schema, table), environments in groups.items():
        if len(environments) < 2:
            continue
        labels = ", ".join(members[0].label for members in environments.values())
        others = {key: _others(environments, key) for key in environments}
        if one_database:
            tables = [_own_version_table(members, schema, table, others[key]) for key, members in environments.items()]
            first = next(iter(environments.values()))[0]
            notes.append(
                f"{labels}: each keeps {schema}.{table}, so in one database each got a version table of its own "
                f"({', '.join(tables)}), which dbtasks hands to Alembic; plain alembic in a service's folder uses it "
                f"too once its env.py passes it to context.configure (version_table={tables[0].split('.')[-1]!r} for "
                f"{first.label})"
            )
            continue
        chosen = [_own_database(members, schema, table, root, others[key]) for key, members in environments.items()]
        notes.append(
            f"{labels}: each keeps {schema}.{table}, so each {_databases_said(chosen)}; to keep them in one database "
            f"instead, each with a version table of its own, run {ONE_DATABASE}"
        )


def _databases_said(chosen: list[tuple[str, str]]) -> str:
    """What the databases of services that share a version table's place are called, and who named them."""
    create = (
        "the local database creates {}; on your server, inv db.upgrade-all --create-databases does, or put your "
        "databases' names in services.NAME.database"
    )
    if all(not source for _, source in chosen):
        return f"got a database of its own, named by init: {', '.join(name for name, _ in chosen)} ({create.format('them')})"
    said = ", ".join(f"{name} (as {source} names it)" if source else f"{name} (named by init)" for name, source in chosen)
    return f"has a database of its own: {said}" + (
        f"; {create.format('those init named')}" if any(not s for _, s in chosen) else ""
    )


def _others(environments: dict[tuple[Path, str], list[Planned]], key: tuple[Path, str]) -> str:
    """The other services keeping the same version table: "a does", "a and b do"."""
    names = [service.name for other, group in environments.items() if other != key for service in group]
    return f"{names[0]} does" if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]} do"


def _own_database(members: list[Planned], schema: str, table: str, root: Path, others: str) -> tuple[str, str]:
    """(the database, where its name was read: "" when init chose it) of one environment's services."""
    first = members[0]
    read = databases.named(first.scan.folder, root, first.scan.ini_url)
    name = read[0] if read else first.name if len(members) == 1 else _folder_name(first)
    named = f"as {read[1]} names it" if read else "named by init: the local database creates it"
    for service in members:
        service.database = name
        service.alone = (  # what --update says of a new service that joins the group
            f"{service.label}: keeps {schema}.{table}, as {others}, so it got a database of its own, {name} ({named}); "
            f"to keep it in the default database instead, replace its database: line with schema: {schema} and "
            f"version_table: {schema}.{own_version_table(service.name, table)}"
        )
        service.comments.append(
            f"keeps its version table in {schema}.{table}, as {others}: two services cannot share one, so each "
            + (
                f"has a database of its own; {name}, as {read[1]} names it"
                if read
                else "gets a database of its own "
                "(named here after the service, or the folder of its branches: rename it to yours)"
            )
        )
    return name, read[1] if read else ""


def _own_version_table(members: list[Planned], schema: str, table: str, others: str) -> str:
    """One environment's version table of its own in the shared database: `table` and its service's (or folder's) name."""
    first = members[0]
    own = own_version_table(first.name if len(members) == 1 else _folder_name(first), table)
    for service in members:
        service.version_table = own
        service.alone = (
            f"{service.label}: keeps {schema}.{table}, as {others}, so in the one database it got a version table of its "
            f"own, {schema}.{own}, which dbtasks hands to Alembic"
        )
        service.comments.append(
            f"keeps its version table in {schema}.{table}, as {others}: in one database, each has its own; "
            f"{schema}.{own}, which dbtasks hands to env.py"
        )
    return f"{schema}.{own}"


def _folder_name(service: Planned) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", service.path.lower()).strip("_") or service.name


def _decide_dependencies(services: list[Planned]) -> None:
    """A service whose migrations' foreign keys point at a table another service (in its database) creates
    depends on that service; a dependency that would close a cycle is left out."""
    owners: dict[tuple[str, str], set[str]] = {}
    for service in services:
        for schema, table in service.scan.created:
            owners.setdefault((schema or "public", table), set()).add(service.name)
    by_name = {service.name: service for service in services}
    for service in services:
        for schema, table in sorted(service.scan.references, key=str):
            found = owners.get((schema or "public", table), set())
            if len(found) != 1:
                continue
            owner = next(iter(found))
            if owner == service.name or owner in service.depends_on or by_name[owner].database != service.database:
                continue
            if not _reaches(by_name, owner, service.name):
                service.depends_on.append(owner)
    for key, creators in owners.items():  # one table, two creators: the one that creates it unconditionally first
        firm = [name for name in sorted(creators) if key not in _if_missing(by_name[name])]
        for name in sorted(creators - set(firm[:1])) if len(firm) == 1 else []:
            service, first = by_name[name], by_name[firm[0]]
            apart = first.name in service.depends_on or first.database != service.database
            if not apart and not _reaches(by_name, first.name, service.name):
                service.depends_on.append(first.name)
    named = {service.scan.branch: service.name for service in services if service.scan.branch}
    for service in services:  # a branch whose revisions depend on another branch's comes after it
        for label in service.scan.branch_needs:
            if named.get(label) and named[label] not in service.depends_on:
                service.depends_on.append(named[label])
    for service in services:
        service.depends_on.sort()


def _if_missing(service: Planned) -> set[tuple[str, str]]:
    return {(schema or "public", table) for schema, table in service.scan.created_if_missing}


def _reaches(services: dict[str, Planned], start: str, goal: str) -> bool:
    stack, seen = [start], set()
    while stack:
        name = stack.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            stack.extend(services[name].depends_on)
    return False


def _decide_extensions(services: list[Planned]) -> None:
    """An extension one service's migrations create and another's use: the user depends on the creator (it runs
    first); one nobody creates stays in the user's extensions, which dbtasks creates before its first revision."""
    creators = {extension: service for service in services for extension in sorted(service.scan.created_extensions)}
    for service in services:
        for extension in list(service.scan.extensions):
            creator = creators.get(extension)
            if creator is None or creator is service or service.name in creator.depends_on:
                continue
            service.scan.extensions.remove(extension)
            if creator.name not in service.depends_on:
                service.depends_on.append(creator.name)
            service.comments.append(f"depends on {creator.name}: its migrations create extension {extension}, which these use")
