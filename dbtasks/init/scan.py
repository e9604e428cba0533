"""What `dbtasks init` reads from one Alembic service without running it: alembic.ini, env.py, the migration
files, the models and the dependency files, each parsed with ast or read as text.

Runs in the orchestrator: standard library only, Python 3.9 syntax.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..worker import revisions, sources
from . import extensions, packages, paths, reads

UNKNOWN = sources.UNKNOWN  # a value env.py computes at run time
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", ".dbtasks", "__pycache__", ".tox", ".nox"})
_DRIVER_IN_URL = re.compile(r"\bpostgres(?:ql)?\+(asyncpg|psycopg2|psycopg)\b")
_DEPENDENCY = {
    "asyncpg": re.compile(r"\basyncpg\b", re.I),
    "psycopg2": re.compile(r"\bpsycopg2\b", re.I),
    "psycopg": re.compile(r"\bpsycopg\b(?![2_])", re.I),
}
_DEPENDENCY_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "environment.yml")
_ASYNC_ENGINES = ("async_engine_from_config", "create_async_engine", "AsyncEngine")
_SYNC_ENGINES = ("engine_from_config", "create_engine")
_URL_VARIABLE = re.compile(r"(URL|URI|DSN)")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCES = re.compile(r'\bREFERENCES\s+(?:"?(\w+)"?\.)?"?(\w+)"?', re.IGNORECASE)
_IF_MISSING = re.compile(r'\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+IF\s+NOT\s+EXISTS\s+(?:"?(\w+)"?\.)?"?(\w+)"?', re.IGNORECASE)
# The suffixes of URL-part variables (POSTGRES_HOST, DB_PASS, PGUSER, ...) and the placeholder each one gets.
_PARTS = (
    ("PASSWORD", "password"),
    ("PASS", "password"),
    ("PWD", "password"),
    ("USERNAME", "user"),
    ("USER", "user"),
    ("HOST", "host"),
    ("PORT", "port"),
    ("DBNAME", "name"),
    ("DATABASE", "name"),
    ("NAME", "name"),
    ("DB", "name"),
)
_MAX_MODEL_FILES = 300


@dataclass
class ServiceScan:
    """What one service's files say (None / UNKNOWN where they do not say it, or compute it)."""

    folder: Path
    ini: Path
    section: str = "alembic"  # the ini's section (alembic -n NAME)
    toml: Path | None = None  # pyproject.toml with [tool.alembic], read after the ini
    env_py: Path | None = None
    env_parsed: bool = False
    literal_drivers: set[str] = field(default_factory=set)  # postgresql+X written in env.py
    engines: set[str] = field(default_factory=set)  # "async" and/or "sync": the engine env.py builds
    dependencies: set[str] = field(default_factory=set)  # drivers named in pyproject.toml / requirements*.txt
    ini_driver: str | None = None  # the driver of alembic.ini's sqlalchemy.url
    ini_url: str = ""  # alembic.ini's sqlalchemy.url (often the template's placeholder)
    variables: dict[str, bool] = field(default_factory=dict)  # variables env.py reads -> required (os.environ[...])
    created_if_missing: set[tuple[str | None, str]] = field(default_factory=set)  # CREATE TABLE IF NOT EXISTS
    module_variables: dict[str, bool] = field(default_factory=dict)  # read by the service's modules env.py imports
    module_files: list[Path] = field(default_factory=list)  # those modules
    version_table: str | None = None
    version_table_schema: str | None = None
    include_schemas: bool = False
    include_object: bool = False
    no_models: bool = False  # target_metadata = None
    created: set[tuple[str | None, str]] = field(default_factory=set)  # tables its migrations create
    migration_count: int = 0
    model_schemas: set[str] = field(default_factory=set)
    references: set[tuple[str | None, str]] = field(default_factory=set)  # tables its migrations' foreign keys point at
    python: str | None = None  # a venv beside alembic.ini, relative to the folder
    extensions: list[str] = field(default_factory=list)  # extensions its migrations use and do not create
    created_extensions: set[str] = field(default_factory=set)  # extensions its migrations create
    files: list[str] = field(default_factory=list)  # its migration files
    databases: list[str] = field(default_factory=list)  # multidb: alembic.ini's databases = a, b (its engines)
    branch: str | None = None  # one branch (branch_labels) of the unit, when it has several (units.by_branch)
    branch_needs: list[str] = field(default_factory=list)  # the other branches its revisions' depends_on reach
    x_names: set[str] = field(default_factory=set)  # the -x names env.py reads ("" when it reads them otherwise)
    package: str | None = None  # script_location = package:path: the package
    shipped: str | None = None  # its alembic.ini is the one this installed package ships (dbtasks init --package)
    pythonpath: list[Path] = field(default_factory=list)  # folders env.py's own packages need beyond its folder
    unresolved: list[str] = field(default_factory=list)  # top-level names env.py imports that nothing here provides

    @property
    def url_variables(self) -> list[str]:
        return [name for name in self.variables if _URL_VARIABLE.search(name)]

    def url_parts(self, variables: dict[str, bool] | None = None) -> dict[str, str]:
        """The URL-part variables env.py (or `variables`) reads (POSTGRES_HOST, ...) -> the placeholder filling each."""
        variables = self.variables if variables is None else variables
        hosts = [name for name in variables if name.endswith("HOST") and not _URL_VARIABLE.search(name)]
        best: dict[str, str] = {}
        for host in hosts:
            prefix = host[: -len("HOST")]
            found = {}
            for name in variables:
                if not name.startswith(prefix) or _URL_VARIABLE.search(name):
                    continue
                rest = name[len(prefix) :]
                for suffix, placeholder in _PARTS:
                    if rest.endswith(suffix) and len(rest) - len(suffix) <= 1:  # PASS, _PASS; not SUPERUSER_PASS
                        found[name] = f"${{db.{placeholder}}}"
                        break
            if len(found) > len(best):
                best = found
        return best


def scan_service(ini: Path, section: str = "alembic", toml: Path | None = None, root: Path | None = None) -> ServiceScan:
    """Read the service whose alembic.ini is `ini` (its `section`, then `toml`'s [tool.alembic]) in the monorepo at
    `root`: nothing is imported or run."""
    folder = ini.parent
    scan = ServiceScan(folder=folder, ini=ini, section=section, toml=toml)
    source: dict[str, Any] = {"ini": str(ini), "cwd": str(folder), "section": section, "toml": str(toml) if toml else None}
    options = revisions.alembic_options(source["ini"], section, source["toml"]) or {}
    modules = _Modules(_import_roots(options.get("prepend_sys_path", ""), folder))
    scan.ini_url = str(options.get("sqlalchemy.url", ""))
    scan.ini_driver = _ini_driver(scan.ini_url)
    scan.databases = [name for name in re.split(r"[,\s]+", str(options.get("databases", ""))) if name]
    scan.dependencies = _dependencies(folder)
    env_py = revisions.environment_file(**source)
    location = str(options.get("script_location") or "")
    package = packages.split(location)
    packaged = packages.folder(location, [folder, *modules.roots]) if package else None
    scan.package = package[0] if package else None
    if packaged is not None:  # script_location = package:path, the package found where this interpreter looks
        env_py = str(packaged / "env.py")
    for candidate in (".venv/bin/python", "venv/bin/python"):
        if os.access(folder / candidate, os.X_OK):
            scan.python = candidate
            break
    if env_py and os.path.isfile(env_py):
        scan.env_py = Path(env_py)
        tree = modules.parse(scan.env_py)
        if tree is not None:  # the folders its own packages need (src layouts, shared packages), before reading on
            python = folder / scan.python if scan.python else None
            names = paths.imported_names(tree)
            scan.pythonpath, scan.unresolved = paths.pythonpath(folder, root or folder, modules.roots, names, python)
            modules.roots.extend(scan.pythonpath)
        _read_env_py(scan, modules)
    files = revisions.version_files(**source) or (sorted(map(str, packaged.glob("versions/*.py"))) if packaged else [])
    scan.migration_count, scan.files = len(files), sorted(files)
    for path in files:
        _read_migration(scan, Path(path), modules)
    scan.created |= {(schema or None, table) for schema, table in sources.created_tables(files, "")}
    texts = [revisions.text_of(path) or "" for path in files]
    scan.created_if_missing = {(schema or None, table) for text in texts for schema, table in _IF_MISSING.findall(text)}
    scan.extensions, scan.created_extensions = extensions.needed(texts), extensions.created(texts)
    _read_models(scan, modules)
    return scan


def _read_env_py(scan: ServiceScan, modules: _Modules) -> None:
    assert scan.env_py is not None
    tree = modules.parse(scan.env_py)
    if tree is None:
        return
    scan.env_parsed = True
    constants = modules.constants(scan.env_py)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            scan.literal_drivers.update(_DRIVER_IN_URL.findall(node.value))
        elif isinstance(node, ast.Call):
            called = reads.called(node)
            if called in _ASYNC_ENGINES:
                scan.engines.add("async")
            elif called in _SYNC_ENGINES:
                scan.engines.add("sync")
            elif called in ("get", "getenv") and node.args:
                name = reads.string(node.args[0], constants)
                if name and _VARIABLE.match(name) and reads.reads_environment(node.func):
                    scan.variables.setdefault(name, False)
                elif name and reads.reads_x(node.func):  # context.get_x_argument(as_dictionary=True).get("schema")
                    scan.x_names.add(name)
            elif called == "get_x_argument":
                scan.x_names.add("")  # it reads -x, whether or not a name can be seen
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and reads.is_environ(node.value):
            name = reads.string(node.slice, constants)  # os.environ["X"]: required
            if name and _VARIABLE.match(name):
                scan.variables[name] = True
    _read_imported_modules(scan, tree, modules)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant) and statement.value.value is None:
            scan.no_models |= any(isinstance(target, ast.Name) and target.id == "target_metadata" for target in statement.targets)
    _read_configure_calls(scan, tree, constants)


def _read_imported_modules(scan: ServiceScan, tree: ast.Module, modules: _Modules, depth: int = 2) -> None:
    """The environment variables read by the service's own modules env.py imports, and theirs (`depth` levels): a URL
    built in `app/database.py` from POSTGRES_HOST and the like, or a pydantic BaseSettings class."""
    queue: list[tuple[ast.Module, int]] = [(tree, 0)]
    seen: set[Path] = set()
    while queue:
        current, level = queue.pop(0)
        for node in ast.walk(current):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                source = modules.module_file(name)
                if source is None or source in seen or source == scan.env_py or len(seen) >= 20:
                    continue
                seen.add(source)
                parsed = modules.parse(source)
                if parsed is None:
                    continue
                scan.module_files.append(source)
                for variable, required in reads.environment_reads(parsed, modules.constants(source)).items():
                    scan.module_variables[variable] = scan.module_variables.get(variable, False) or required
                if level + 1 < depth:
                    queue.append((parsed, level + 1))


def _read_configure_calls(scan: ServiceScan, tree: ast.Module, constants: dict[str, str]) -> None:
    """version_table(_schema) as env.py passes them to context.configure: the exact reading of worker/sources.py,
    then, for what that leaves computed, constants imported from the service's own modules."""
    exact = sources.version_table_of(str(scan.env_py))
    seen: dict[str, set[str | None]] = {"version_table": set(), "version_table_schema": set()}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure"):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "context"):
            continue
        passed = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        for key, values in seen.items():
            values.add(reads.string(passed[key], constants) if key in passed else None)
        value = passed.get("include_schemas")
        scan.include_schemas |= isinstance(value, ast.Constant) and value.value is True
        scan.include_object |= "include_object" in passed
    for key, values in seen.items():
        found = exact[key] if exact[key] != UNKNOWN else (next(iter(values)) if len(values) == 1 else UNKNOWN)
        setattr(scan, key, found)


def _read_migration(scan: ServiceScan, path: Path, modules: _Modules) -> None:
    tree = modules.parse(path)
    if tree is None:
        return
    constants = modules.constants(path)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called, keywords = reads.called(node), {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        if called == "create_table" and node.args:
            table, schema = reads.string(node.args[0], constants), reads.keyword(keywords, "schema", constants)
            if table and table != UNKNOWN and schema != UNKNOWN:
                scan.created.add((schema, table))
        elif called == "ForeignKeyConstraint":
            targets = node.args[1] if len(node.args) > 1 else keywords.get("refcolumns")
            for element in targets.elts if isinstance(targets, (ast.List, ast.Tuple)) else []:
                _add_reference(scan, reads.string(element, constants))
        elif called == "ForeignKey" and node.args:
            _add_reference(scan, reads.string(node.args[0], constants))
        elif called == "create_foreign_key":
            referent = node.args[2] if len(node.args) > 2 else keywords.get("referent_table")
            table, schema = reads.string(referent, constants), reads.keyword(keywords, "referent_schema", constants)
            if table and table != UNKNOWN and schema != UNKNOWN:
                scan.references.add((schema, table))
        elif called == "execute" and node.args:  # raw SQL: REFERENCES schema.table (a foreign key written by hand)
            argument = node.args[0]
            if isinstance(argument, ast.Call) and reads.called(argument) == "text" and argument.args:  # sa.text("...")
                argument = argument.args[0]
            sql = reads.string(argument, constants) or ""
            scan.references |= {(schema or None, table) for schema, table in _REFERENCES.findall(sql)}


def _add_reference(scan: ServiceScan, column: str | None) -> None:
    """A foreign key's target column, `schema.table.column` or `table.column`."""
    if not column or column == UNKNOWN:
        return
    parts = column.split(".")
    if len(parts) == 3:
        scan.references.add((parts[0], parts[1]))
    elif len(parts) == 2:
        scan.references.add((None, parts[0]))


def _read_models(scan: ServiceScan, modules: _Modules) -> None:
    """Schemas the service's own modules name for their tables: Table(..., schema=), MetaData(schema=),
    __table_args__ = {"schema": ...}; the Alembic folder and virtualenvs are left out."""
    script_folder = scan.env_py.parent if scan.env_py else None
    count = 0
    for folder, subfolders, files in os.walk(scan.folder):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in SKIPPED_FOLDERS
            and Path(folder, name) != script_folder
            and not os.path.isfile(os.path.join(folder, name, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if not name.endswith(".py") or count >= _MAX_MODEL_FILES:
                continue
            path = Path(folder, name)
            count += 1
            tree = modules.parse(path, needle="schema")
            if tree is not None:
                _model_schemas(scan, tree, modules.constants(path))


def _model_schemas(scan: ServiceScan, tree: ast.Module, constants: dict[str, str]) -> None:
    for node in ast.walk(tree):
        value: str | None = None
        if isinstance(node, ast.Call) and reads.called(node) in ("Table", "MetaData"):
            value = reads.keyword({k.arg: k.value for k in node.keywords if k.arg}, "schema", constants)
        elif isinstance(node, ast.Dict):
            for index, key in enumerate(node.keys):
                if isinstance(key, ast.Constant) and key.value == "schema":
                    value = reads.string(node.values[index], constants)
        if value and value != UNKNOWN:
            scan.model_schemas.add(value)


class _Modules:
    """Parses the service's Python files once each and resolves module-level string constants, following
    `from package.module import NAME` into the service's own folders (alembic.ini's prepend_sys_path)."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self.trees: dict[Path, ast.Module | None] = {}
        self.resolved: dict[Path, dict[str, str]] = {}

    def parse(self, path: Path, needle: str = "") -> ast.Module | None:
        if path not in self.trees:
            try:
                text = revisions.text_of(str(path)) or ""
                self.trees[path] = ast.parse(text) if text and needle in text else None
            except (OSError, SyntaxError, ValueError, RecursionError):
                self.trees[path] = None
        return self.trees[path]

    def constants(self, path: Path, depth: int = 0) -> dict[str, str]:
        if path in self.resolved:
            return self.resolved[path]
        self.resolved[path] = {}  # an import cycle resolves to nothing
        found = {name: value for name, value in revisions.module_constants(str(path)).items() if isinstance(value, str)}
        tree = self.parse(path)
        for node in tree.body if tree is not None and depth < 4 else []:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                source = self.module_file(node.module)
                if source is not None:
                    values = self.constants(source, depth + 1)
                    for alias in node.names:
                        if alias.name in values:
                            found[alias.asname or alias.name] = values[alias.name]
        self.resolved[path] = found
        return found

    def module_file(self, module: str) -> Path | None:
        relative = Path(*module.split("."))
        for root in self.roots:
            for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None


def _import_roots(value: object, folder: Path) -> list[Path]:
    """Where env.py's imports come from: the service folder and Alembic's prepend_sys_path (a string, or a list in
    [tool.alembic])."""
    roots = [folder]
    items = [str(item) for item in value] if isinstance(value, list) else re.split(r"[\s,:]+", str(value).strip())
    for item in items:
        if item:
            path = (folder / item).resolve()
            if path not in roots:
                roots.append(path)
    return roots


def _ini_driver(url: str) -> str | None:
    """The driver of the configured sqlalchemy.url (postgresql+asyncpg://...), if it names one."""
    found = _DRIVER_IN_URL.findall(url)
    return found[0] if found else None


def _dependencies(folder: Path) -> set[str]:
    """The drivers the service's dependency files name (asyncpg, psycopg2, psycopg)."""
    found: set[str] = set()
    names = list(_DEPENDENCY_FILES) + sorted(path.name for path in folder.glob("requirements*.txt"))
    for name in names:
        text = revisions.text_of(str(folder / name))
        if text is None:
            continue
        found |= {driver for driver, pattern in _DEPENDENCY.items() if pattern.search(text)}
    return found
