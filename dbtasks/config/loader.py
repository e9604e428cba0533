"""Load and validate migrations.yaml into a Project, before any database is touched: load()."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from ..database.urls import PLACEHOLDER, PLACEHOLDER_FIELDS
from ..errors import ConfigError
from ..lint.rules import LintRules
from ..settings import digits
from . import fleets as fleet_config
from . import lint_settings as config_lint
from . import yaml_bounds
from .alembic_config import alembic_files, alembic_problem
from .keys import (
    DATABASE_KEYS,
    DEFAULT_URL_ENV,
    ENV_NAME,
    ENVIRONMENT_KEYS,
    NAME,
    REQUIRED,
    SERVICE_KEYS,
    TOP_KEYS,
    bookkeeping_problem,
    duration_problem,
    env_text,
    find_cycle,
    is_x,
    merged,
    own_version_table,
    version_table,
)
from .project import BOOKKEEPING_SCHEMA, Environment, Project, Service, closest, display_path, read_utf8, resolved


def load(file: Path) -> Project:
    """Read and validate `file`; raise ConfigError listing every problem found."""
    return _Loader(file).load()


class _Loader:
    """Walks the YAML node tree so that every problem is reported with its line number."""

    def __init__(self, file: Path) -> None:
        self.file = resolved(file)
        self.label = display_path(file)
        self.problems: list[str] = []
        self.suggested: set[tuple[str, str]] = set()  # (where, key) a misspelled key was matched to
        self.value_nodes: dict[tuple[str, str], yaml.Node] = {}  # (service, key) -> its value, for line numbers
        self.lint = LintRules()  # dbtasks' defaults with the top level's lint: on top

    def at(self, name: str, key: str, fallback: yaml.Node) -> yaml.Node:
        """The node of services.<name>.<key>, so a problem points at that key's line."""
        return self.value_nodes.get((name, key), fallback)

    def problem(self, node: yaml.Node | None, where: str, message: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        subject = f" {where}:" if where else ""
        self.problems.append(f"{self.label}{line}:{subject} {message}")

    def load(self) -> Project:
        if not self.file.exists():
            raise ConfigError([f"{self.label}: not found; create it (see docs/configuration.md, or run 'dbtasks init')"])
        try:
            root = yaml_bounds.compose(read_utf8(self.file))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            reason = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError([f"{self.label}{line}: invalid YAML: {reason}; fix the syntax"]) from None
        except yaml_bounds.TooLarge as error:
            raise ConfigError([f"{self.label}:{error.line}: {error}"]) from None
        if not isinstance(root, yaml.MappingNode):
            raise ConfigError([f"{self.label}: expected a mapping with version, database and services"])
        top = self.mapping(root, "", TOP_KEYS)
        self.check_version(top.get("version"))
        url_env, local = self.database(top.get("database"))
        environments = self.environments(top.get("environments"), url_env)
        self.lint = config_lint.layer(self, top["lint"][1] if "lint" in top else None, "lint", self.lint)
        services = self.services(top.get("services"))
        self.check_url_envs(environments, services)
        fleets = fleet_config.fleets(self, top.get("targets"), services)
        ours = self.bookkeeping(top.get("bookkeeping_schema"), services)
        if self.problems:
            raise ConfigError(self.problems)
        return Project(self.file, url_env, services, local, environments, fleets, bookkeeping_schema=ours)

    def bookkeeping(self, entry: tuple[yaml.Node, yaml.Node] | None, services: dict[str, Service]) -> str:
        """bookkeeping_schema: dbtasks' own schema in every database, never one a service owns (default dbtasks_state)."""
        name = BOOKKEEPING_SCHEMA if entry is None else self.value(entry[1])
        problem = bookkeeping_problem(name, services.values())
        if problem is not None:
            self.problem(entry[1] if entry is not None else None, "bookkeeping_schema", problem)
        return str(name)

    def mapping(self, node: yaml.MappingNode, where: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys of `node` to (key node, value node); unknown keys are reported with a suggestion."""
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in merged(node):
            key = key_node.value
            path = f"{where}.{key}" if where else key
            if key in entries:
                self.problem(key_node, path, "duplicate key; keep one")
            elif not where and key.startswith("x-"):
                continue  # extension fields hold YAML anchors (`x-common: &common`), as in docker-compose
            elif allowed and key not in allowed:
                close = closest(key, allowed)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                if close:
                    self.suggested.add((where, close[0]))
                self.problem(key_node, path, f"unknown key; {hint}")
            entries[key] = (key_node, value_node)
        return entries

    def check_version(self, entry: tuple[yaml.Node, yaml.Node] | None) -> None:
        if entry is None:
            if ("", "version") not in self.suggested:
                self.problem(None, "version", "missing; add 'version: 1'")
        elif type(self.value(entry[1])) is not int or self.value(entry[1]) != 1:
            self.problem(entry[1], "version", f"expected 1, got {self.value(entry[1])!r}")

    def database(self, entry: tuple[yaml.Node, yaml.Node] | None) -> tuple[str, bool]:
        if entry is None:
            return DEFAULT_URL_ENV, True
        node = entry[1]
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "database", "expected a mapping (url_env: DATABASE_URL)")
            return DEFAULT_URL_ENV, True
        keys = self.mapping(node, "database", DATABASE_KEYS)
        url_env, local = DEFAULT_URL_ENV, True
        if "url_env" in keys:
            value = self.value(keys["url_env"][1])
            if isinstance(value, str) and ENV_NAME.match(value):
                url_env = value
            else:
                self.problem(keys["url_env"][1], "database.url_env", f"expected an environment variable name, got {value!r}")
        if "local" in keys:
            value = self.value(keys["local"][1])
            if isinstance(value, bool):
                local = value
            else:
                self.problem(keys["local"][1], "database.local", f"expected true or false, got {value!r}")
        return url_env, local

    def environments(self, entry: tuple[yaml.Node, yaml.Node] | None, default_url_env: str) -> dict[str, Environment]:
        if entry is None:
            return {}
        node = entry[1]
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "environments", "expected a mapping of environment name to settings")
            return {}
        found: dict[str, Environment] = {}
        for name, (key_node, value_node) in self.mapping(node, "environments", ()).items():
            where = f"environments.{name}"
            if not NAME.match(name):
                self.problem(key_node, where, "environment names use lowercase letters, digits, - and _")
            elif not isinstance(value_node, yaml.MappingNode):
                self.problem(value_node, where, f"expected a mapping ({', '.join(ENVIRONMENT_KEYS)})")
            else:
                values = {key: (self.value(v), v) for key, (_, v) in self.mapping(value_node, where, ENVIRONMENT_KEYS).items()}
                environment = self.environment(name, values, default_url_env)
                if environment is not None:
                    found[name] = environment
        return found

    def environment(self, name: str, values: dict[str, tuple[Any, yaml.Node]], default_url_env: str) -> Environment | None:
        where, before = f"environments.{name}", len(self.problems)
        url_env, node = values.get("url_env", (default_url_env, None))
        if not (isinstance(url_env, str) and ENV_NAME.match(url_env)):
            self.problem(node, f"{where}.url_env", f"expected an environment variable name, got {url_env!r}")
        protected, node = values.get("protected", (False, None))
        if not isinstance(protected, bool):
            self.problem(node, f"{where}.protected", f"expected true or false, got {protected!r}")
        timeouts: dict[str, str | None] = {}
        for key in ("statement_timeout", "lock_timeout"):
            value, node = values.get(key, (None, None))
            text = None if value is None else str(value).strip()
            problem = duration_problem(text) if text is not None and not isinstance(value, bool) else None
            if isinstance(value, bool) or problem is not None:
                self.problem(node, f"{where}.{key}", f"{problem or 'expected a duration'}, got {value!r}")
            timeouts[key] = text + "ms" if text and digits(text) else text
        url_envs, node = values.get("url_envs", ({}, None))
        if not (isinstance(url_envs, dict) and all(isinstance(v, str) and ENV_NAME.match(v) for v in url_envs.values())):
            self.problem(node, f"{where}.url_envs", f"expected a mapping of service: VARIABLE, got {url_envs!r}")
        x, x_node = values.get("x", ({}, None))
        if not is_x(x):
            self.problem(x_node, f"{where}.x", f"expected a mapping of name: value (Alembic's -x name=value), got {x!r}")
        if len(self.problems) > before:
            return None
        if node is not None:
            self.value_nodes[(where, "url_envs")] = node
        x = {key: env_text(value) for key, value in x.items()}
        return Environment(name, url_env, protected, timeouts["statement_timeout"], timeouts["lock_timeout"], url_envs, x)

    def check_url_envs(self, environments: dict[str, Environment], services: dict[str, Service]) -> None:
        """In a named environment, every service with a URL of its own names the variable that holds it there."""
        for environment in environments.values():
            where = f"environments.{environment.name}"
            node = self.value_nodes.get((where, "url_envs"))
            for name in environment.url_envs:
                if name not in services:
                    self.problem(node, f"{where}.url_envs", f"unknown service {name!r}; known: {', '.join(services)}")
            for service in services.values():
                if service.database_url_env and service.name not in environment.url_envs:
                    self.problem(
                        node,
                        where,
                        f"service {service.name!r} has a URL of its own ({service.database_url_env}); say which variable "
                        f"holds it in {environment.name!r}: url_envs: {{{service.name}: {environment.name.upper()}_{service.name.upper()}_DATABASE_URL}}",
                    )

    def services(self, entry: tuple[yaml.Node, yaml.Node] | None) -> dict[str, Service]:
        if entry is None:
            if ("", "services") not in self.suggested:
                self.problem(None, "services", "missing; declare at least one service")
            return {}
        node = entry[1]
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.problem(node, "services", "expected a mapping of service name to settings")
            return {}
        services: dict[str, Service] = {}
        nodes: dict[str, yaml.Node] = {}
        declared = self.mapping(node, "services", ())
        for name, (key_node, value_node) in declared.items():
            service = self.service(name, key_node, value_node)
            if service is not None:
                services[name] = service
                nodes[name] = value_node
        self.check_dependencies(services, nodes, list(declared))
        self.check_version_tables(services, nodes)
        return services

    def service(self, name: str, key_node: yaml.Node, node: yaml.Node) -> Service | None:
        where = f"services.{name}"
        if not NAME.match(name):
            self.problem(key_node, where, "service names use lowercase letters, digits, - and _")
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "expected a mapping with path, schema and driver")
            return None
        raw: dict[str, Any] = {}
        before = len(self.problems)
        for key, (_, value_node) in self.mapping(node, where, tuple(SERVICE_KEYS)).items():
            self.value_nodes[(name, key)] = value_node
            if key not in SERVICE_KEYS:
                continue
            value = self.value(value_node)
            check, expected = SERVICE_KEYS[key]
            if not check(value):
                self.problem(value_node, f"{where}.{key}", f"{expected}, got {value!r}")
            raw[key] = value
        for key in REQUIRED:
            if key not in raw and (where, key) not in self.suggested:
                self.problem(key_node, where, f"missing {key!r}")
        if not {"schema", "schemas", "database"} & set(raw) and (where, "schema") not in self.suggested:
            self.problem(
                key_node, where, "missing 'schema' (or 'schemas'; a service with a 'database' of its own defaults to public)"
            )
        if len(self.problems) > before:
            return None
        return self.build_service(name, raw, node)

    def build_service(self, name: str, raw: dict[str, Any], node: yaml.Node) -> Service | None:
        where = f"services.{name}"
        path = self.file.parent / raw["path"]
        with contextlib.suppress(RuntimeError, OSError):  # a symbolic link loop: no such folder, as far as anyone can tell
            path = path.resolve()
        section = raw.get("ini_section", "alembic")
        python = os.path.expanduser(raw["python"]) if "python" in raw else None
        if not path.is_dir():
            self.problem(
                self.at(name, "path", node), f"{where}.path", f"folder {display_path(path)} does not exist; fix the path"
            )
            return None
        if python is not None:
            resolved = (path / python) if "/" in python else shutil.which(python)
            resolved = Path(resolved) if resolved else path / python
            if not os.access(resolved, os.X_OK):
                self.problem(
                    self.at(name, "python", node),
                    f"{where}.python",
                    f"{display_path(resolved)} is not an executable interpreter; create the venv or fix python",
                )
                return None
            python = str(resolved)
        try:
            toml_file = raw.get("toml_file")
            ini, pyproject = alembic_files(path, raw.get("alembic_ini", "alembic.ini"), python, toml_file)
            problem = alembic_problem(ini, pyproject, section, "toml_file" if toml_file else "alembic_ini")
        except ValueError as error:  # a package that is not installed
            problem, ini, pyproject = ("alembic_ini", str(error)), path, None
        if problem is not None:
            key, message = problem
            self.problem(self.at(name, key, self.at(name, "path", node)), f"{where}.{key}", message)
            return None
        for file in raw.get("prepare", []):
            if not (path / file).is_file():
                self.problem(
                    self.at(name, "prepare", node),
                    f"{where}.prepare",
                    f"{display_path(path / file)} does not exist; fix the path (relative to {display_path(path)})",
                )
                return None
        for variable, value in [*raw.get("env", {}).items(), *raw.get("x", {}).items()]:
            unknown = [field for field in PLACEHOLDER.findall(str(value)) if field not in PLACEHOLDER_FIELDS]
            if unknown:
                known = ", ".join(f"${{db.{field}}}" for field in PLACEHOLDER_FIELDS)
                key = "env" if variable in raw.get("env", {}) else "x"
                self.problem(
                    self.at(name, key, node),
                    f"{where}.{key}.{variable}",
                    f"unknown placeholder ${{db.{unknown[0]}}}; use {known}",
                )
                return None
        schemas = list(dict.fromkeys([raw["schema"]] if "schema" in raw else [])) + list(raw.get("schemas", []))
        schemas = list(dict.fromkeys(schemas or ["public"]))
        database = raw.get("database")
        return Service(
            name=name,
            path=path,
            schema=schemas[0],
            schemas=tuple(schemas),
            database=database if isinstance(database, str) else None,
            database_url_env=database["url_env"] if isinstance(database, dict) else None,
            version_table=version_table(raw.get("version_table"), schemas[0], ini, path, section, pyproject),
            version_table_declared=bool(raw.get("version_table")),
            create_schema=raw.get("create_schema", True),
            driver=raw["driver"],
            alembic_ini=ini,
            ini_section=section,
            pyproject=pyproject,
            x=tuple(f"{key}={env_text(value)}" for key, value in raw.get("x", {}).items()),
            extensions=tuple(dict.fromkeys(raw.get("extensions", []))),
            prepare=tuple((path / file).resolve() for file in raw.get("prepare", [])),
            bootstrap=raw["bootstrap"]["metadata"] if "bootstrap" in raw else None,
            branch=raw.get("branch"),
            engines=tuple(
                (engine, spec if isinstance(spec, str) else None, spec["url_env"] if isinstance(spec, dict) else None)
                for engine, spec in raw.get("engines", {}).items()
            ),
            url_env=raw.get("url_env", DEFAULT_URL_ENV),
            pythonpath=tuple((path / item).resolve() for item in raw.get("pythonpath", [])),
            env={key: env_text(value) for key, value in raw.get("env", {}).items()},
            python=python,
            depends_on=tuple(raw.get("depends_on", [])),
            expect_tables=tuple(raw.get("expect_tables", [])),
            lint=config_lint.layer(self, self.value_nodes.get((name, "lint")), f"{where}.lint", self.lint),
        )

    def check_dependencies(self, services: dict[str, Service], nodes: dict[str, yaml.Node], declared: list[str]) -> None:
        """Unknown names are checked against every declared service, so one broken entry does not cascade."""
        for name, service in services.items():
            where = self.at(name, "depends_on", nodes[name])
            for dep in service.depends_on:
                if dep == name:
                    self.problem(where, f"services.{name}.depends_on", "a service cannot depend on itself")
                elif dep not in declared:
                    close = closest(dep, declared)
                    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(declared)}"
                    self.problem(where, f"services.{name}.depends_on", f"unknown service {dep!r}{hint}")
        cycle = find_cycle(services)
        if cycle:
            first = cycle[0]
            self.problem(
                self.at(first, "depends_on", nodes[first]),
                f"services.{first}.depends_on",
                f"dependency cycle {' -> '.join(cycle)}; remove one of these dependencies",
            )

    def check_version_tables(self, services: dict[str, Service], nodes: dict[str, yaml.Node]) -> None:
        """Services may share a database and a schema, never a version table."""
        owners: dict[tuple[tuple[str, str], str, str], str] = {}
        for name, service in services.items():
            key = (service.database_key, *service.expected_version_table)
            if key in owners and services[owners[key]].other_branch(service):
                continue
            if key in owners:
                table = ".".join(service.expected_version_table)
                self.problem(
                    self.at(name, "version_table", self.at(name, "schema", nodes[name])),
                    f"services.{name}",
                    f"keeps its version table in {table}, like {owners[key]!r} in the same database; two services "
                    f"cannot share a version table: give {name!r} its own (version_table: {own_version_table(name)}, "
                    f"and the same name in its env.py's context.configure)",
                )
            else:
                owners[key] = name

    @staticmethod
    def value(node: yaml.Node) -> Any:
        return yaml.SafeLoader(yaml.safe_dump(None)).construct_object(node, deep=True)
