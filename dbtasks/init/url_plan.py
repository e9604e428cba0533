"""How a service's URL reaches its env.py, as init decides it: the variable env.py (or a module of the service's it
imports) reads the URL from, else the URL parts it builds it from, filled by dbtasks through `env:`."""

from __future__ import annotations

import os
import re

from ..config.keys import DEFAULT_URL_ENV
from .planned import Planned

_PLACEHOLDER_ORDER = ("${db.host}", "${db.port}", "${db.user}", "${db.password}", "${db.name}")


def decide_url(service: Planned, notes: list[str]) -> None:
    scan = service.scan
    urls = scan.url_variables
    parts = scan.url_parts()
    if not urls and not parts and _from_modules(service):
        return
    if urls and DEFAULT_URL_ENV not in urls:
        service.url_env = urls[0]
        service.comments.append(f"env.py reads its URL from {urls[0]}: dbtasks sets it")
        also = f" (it also reads {', '.join(urls[1:])})" if urls[1:] else ""
        notes.append(
            f"{service.label}: env.py reads its URL from {urls[0]}{also}, which dbtasks sets to the URL of "
            f"{DEFAULT_URL_ENV}'s database; for a database of its own, add database: {{url_env: {urls[0]}}} "
            f"to services.{service.name}"
        )
    elif not urls and parts:
        order = {placeholder: index for index, placeholder in enumerate(_PLACEHOLDER_ORDER)}
        service.env = dict(sorted(parts.items(), key=lambda item: (order[item[1]], item[0])))
        service.comments.append(f"env.py builds its URL from {', '.join(service.env)}: dbtasks fills them in")
    others = [name for name in scan.variables if name not in urls and name not in parts]
    for name in others:
        if scan.variables[name]:
            notes.append(
                f"{service.label}: env.py needs {name} (os.environ[{name!r}]); add env: {{{name}: <value>}} to "
                f"services.{service.name}"
            )
    optional = [name for name in others if not scan.variables[name]]
    if optional:
        service.comments.append(f"env.py also reads {', '.join(optional)} when set (env: sets them)")


_DATABASE_WORDS = re.compile(r"(DATABASE|POSTGRES|\bDB|DB_|_DB|PG|SQL)")


def _from_modules(service: Planned) -> bool:
    """The URL env.py takes from the service's own modules (`from app.database import URL`): the variable they read it
    from, or the URL parts they build it from (os.environ, pydantic BaseSettings); True when that decided it. Only
    database-looking names count (not REDIS_URL, nor CACHE_HOST)."""
    scan = service.scan
    variables = {name: required for name, required in scan.module_variables.items() if _DATABASE_WORDS.search(name)}
    urls = [name for name in variables if re.search(r"(URL|URI|DSN)", name)]
    parts = scan.url_parts(variables)
    where = ", ".join(os.path.relpath(path, scan.folder).replace(os.sep, "/") for path in scan.module_files[:2])
    if urls:
        if DEFAULT_URL_ENV not in urls:
            service.url_env = urls[0]
            service.comments.append(f"its URL comes from {urls[0]}, read in {where}: dbtasks sets it")
        return True
    if parts:
        order = {placeholder: index for index, placeholder in enumerate(_PLACEHOLDER_ORDER)}
        service.env = dict(sorted(parts.items(), key=lambda item: (order[item[1]], item[0])))
        service.comments.append(f"its URL is built in {where} from {', '.join(service.env)}: dbtasks fills them in")
        return True
    return False
