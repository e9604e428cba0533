"""migrations.yaml as last validated, kept in .dbtasks/project-cache.json while none of the files load() read changes.

Importing the YAML parser and validating the file cost a no-op `dbtasks upgrade-all` about a fifth of its time.
The cache entry of a migrations.yaml records what its validation read: the file itself, each service's folder,
alembic.ini and env.py (where a literal version table is looked up), the interpreter of `python:` (and PATH and
HOME, which find it), and dbtasks' own validating modules. Each is compared by size, modification and change times
and inode (graph_cache.py's key); any difference, a missing file or a damaged cache means config.load() runs again.

A project whose migrations.yaml holds what may be a secret (a URL with a password, an env: variable named like
one) is never written here: it is validated on every run instead. Only a valid file is cached.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..database.urls import PLACEHOLDER, SECRET_NAME, password_of
from ..files.graph_cache import write_json
from ..files.stamps import stats
from ..lint.rules import LintRules
from . import seal
from .project import Environment, Fleet, Project, Service, resolved

FILE_NAME = "project-cache.json"
_FORMAT = 2  # 2: each entry sealed (seal.py)
_CLASSES: dict[str, Any] = {cls.__name__: cls for cls in (Project, Service, Environment, Fleet, LintRules)}
# The modules whose code decides what load() makes of the files: a change to dbtasks itself is a change too.
_VALIDATORS = [
    "config/loader.py",
    "config/keys.py",
    "config/lint_settings.py",
    "config/fleets.py",
    "config/project.py",
    "config/yaml_bounds.py",
    "config/cache.py",
    "config/seal.py",
    "lint/rules.py",
    "database/urls.py",
    "worker/sources.py",
    "worker/revisions.py",
]
_KEYWORD_PASSWORD = re.compile(r"password\s*=\s*([^\s&]*)", re.IGNORECASE)  # a keyword DSN's, or a URL query's


def load(file: Path) -> Project:
    """config.load(file), from the cache when nothing it read has changed since; ConfigError as config.load raises it."""
    path = resolved(file)
    cache = path.parent / ".dbtasks" / FILE_NAME
    entries = _read(cache)
    source = _source(path)
    with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):  # a damaged entry: validate again
        entry = entries[str(path)]
        if entry["inputs"] == _inputs_now(entry["inputs"]) and seal.verifies(entry, source):
            project = decode(entry["project"])
            if isinstance(project, Project):
                return project
    from . import loader  # the YAML parser and the validation: only when something changed

    project = loader.load(file)
    encoded = encode(project)
    if not holds_secret(project, encoded):
        entry = {"inputs": inputs(project), "project": encoded}
        sealed = seal.seal(entry, source)
        if sealed is not None:  # no key here: nothing is cached
            entries[str(path)] = {**entry, "seal": sealed}
            write_json(cache, {"format": _FORMAT, "projects": entries})
    return project


def _source(path: Path) -> bytes:
    """migrations.yaml's bytes, which the seal covers (a file edited with its size and times kept is still seen)."""
    with contextlib.suppress(OSError):
        return path.read_bytes()
    return b""


def inputs(project: Project) -> dict[str, Any]:
    """What load() read for `project`: [path, stat, ...] of its files and folders, and the variables that found `python:`."""
    from ..worker.revisions import environment_file

    env_files = [environment_file(**service.alembic_source) for service in project.services.values()]
    paths = [*input_paths(project), *(env_py for env_py in env_files if env_py)]
    return {"files": stats(paths), "variables": {name: os.environ.get(name) for name in input_variables(project)}}


def input_paths(project: Project) -> list[str]:
    """The files and folders load() read for `project` but each service's env.py (found through alembic.ini)."""
    package = Path(__file__).parents[1]  # dbtasks/
    paths = [str(project.file), *(str(package / name) for name in _VALIDATORS)]
    for service in project.services.values():
        toml = service.pyproject or service.path / "pyproject.toml"  # gaining a [tool.alembic] changes the service
        paths += [str(service.path), str(service.alembic_ini), str(toml)]
        paths += [service.python] if service.python else []
    return paths


def input_variables(project: Project) -> list[str]:
    """The variables that found a service's `python:` or its packaged alembic.ini."""
    uses_path = any(service.python for service in project.services.values())
    # An ini shipped in a package was found by importing it: where from depends on the interpreter's search path.
    shipped = any(project.root not in service.alembic_ini.parents for service in project.services.values())
    return [*(("PATH", "HOME") if uses_path or shipped else ()), *(("PYTHONPATH",) if shipped else ())]


def _inputs_now(recorded: dict[str, Any]) -> dict[str, Any]:
    """The same inputs as `recorded`, as they are now."""
    paths = recorded["files"][0::2]
    if not all(isinstance(path, str) for path in paths):
        raise ValueError("not an inputs record")
    return {"files": stats(paths), "variables": {name: os.environ.get(name) for name in recorded["variables"]}}


def holds_secret(project: Project, encoded: Any) -> bool:
    """Whether migrations.yaml put what may be a secret into `project` (`encoded`: its encode()), which then is never
    written to disk."""
    for service in project.services.values():
        if any(SECRET_NAME.search(name) and PLACEHOLDER.sub("", value).strip() for name, value in service.env.items()):
            return True  # POSTGRES_PASSWORD: "${db.password}" is filled in at run time: no secret in the file
    return any(_password(text) for text in _strings(encoded))


def _password(text: str) -> bool:
    """A URL with a password in it, or a password= (a ${db.password} placeholder is none)."""
    found = [password_of(text) or "", *_KEYWORD_PASSWORD.findall(text)]
    return any(PLACEHOLDER.sub("", password).strip().strip("'\"") for password in found)


def encode(value: Any) -> Any:
    """A JSON value for a Project (its dataclasses, paths, tuples and mappings tagged, so decode() rebuilds them exactly)."""
    if isinstance(value, Path):
        return {"$path": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(item) for item in value]}
    if type(value).__name__ in _CLASSES and type(value) is _CLASSES[type(value).__name__]:
        fields = value.__dataclass_fields__
        return {"$class": type(value).__name__, **{name: encode(getattr(value, name)) for name in fields}}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {"$map": [[key, encode(item)] for key, item in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$path" in value:
            return Path(value["$path"])
        if "$tuple" in value:
            return tuple(decode(item) for item in value["$tuple"])
        if "$map" in value:
            return {key: decode(item) for key, item in value["$map"]}
        fields = {name: decode(item) for name, item in value.items() if name != "$class"}
        return _CLASSES[value["$class"]](**fields)
    if isinstance(value, list):
        raise ValueError("a bare list is not part of the format")
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _read(cache: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(cache.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and loaded.get("format") == _FORMAT and isinstance(loaded.get("projects"), dict):
            return dict(loaded["projects"])
    return {}
