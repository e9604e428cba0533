"""The example project copied for a test, and its migrations.yaml and migration files read independently of dbtasks."""

from __future__ import annotations

import ast
import atexit
import compileall
import copy
import functools
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dbtasks.database import owner

REPO = Path(__file__).resolve().parents[2]


# migrations.yaml's env: mapping for an env.py that builds its URL from POSTGRES_* parts (what init writes for one).
PARTS_ENV = (
    "    env:\n"
    '      POSTGRES_HOST: "${db.host}"\n'
    '      POSTGRES_PORT: "${db.port}"\n'
    '      POSTGRES_USER: "${db.user}"\n'
    '      POSTGRES_PASSWORD: "${db.password}"\n'
    '      POSTGRES_DB: "${db.name}"\n'
)


def local_database_made(project: Path) -> bool:
    """Whether the embedded local database was set up under `project`/.dbtasks/ (which also holds the revision cache)."""
    home = project / ".dbtasks"
    return any((home / name).exists() for name in ("pgdata", "local.json", "local.lock"))


def copy_project(root: Path) -> Path:
    """Copy migrations.yaml, tasks.py and services/ into `root`, services/ with this interpreter's bytecode of every
    module (never the repository's own __pycache__)."""
    root.mkdir(parents=True)
    shutil.copy2(REPO / "migrations.yaml", root / "migrations.yaml")
    shutil.copy2(REPO / "tasks.py", root / "tasks.py")
    shutil.copytree(_compiled_services(), root / "services")
    return root


@functools.lru_cache(maxsize=1)
def _compiled_services() -> Path:
    """A copy of services/ compiled once per test process. Each test's copy gets the bytecode with the sources, so its
    workers do not compile every revision file, env.py and model module again (each test starts from a fresh copy).
    The files keep their times (copy2), which is what a .pyc is checked against: a file a test edits is compiled anew."""
    folder = Path(tempfile.mkdtemp(prefix="dbtasks-tests-services-"))  # under the suite's prefix (servers.py) ...
    (folder / "owner").write_text(owner.this_process())  # ... so that the next run removes it if this one is killed
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    services = folder / "services"
    shutil.copytree(REPO / "services", services, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(services, quiet=2)
    return services


def declared_services(root: Path = REPO) -> dict[str, dict[str, Any]]:
    """The services of `root`/migrations.yaml, as plain YAML (a copy the caller may change)."""
    return copy.deepcopy(_services_in((root / "migrations.yaml").read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=16)
def _services_in(text: str) -> dict[str, dict[str, Any]]:
    """Read once per content: the helpers above ask for the same file hundreds of times a run."""
    return dict(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["services"])


def schema_of(service: str, root: Path = REPO) -> str:
    return str(declared_services(root)[service]["schema"])


def expected_tables(service: str, root: Path = REPO) -> set[str]:
    return set(declared_services(root)[service].get("expect_tables") or [])


def migration_graph(service: str, root: Path = REPO) -> dict[str, tuple[str, ...]]:
    """revision -> its down_revisions, read from the version files' assignments (nothing is executed)."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(versions_folder(root, service).glob("*.py")):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
                values[target.id] = ast.literal_eval(node.value)
        down = values.get("down_revision")
        graph[values["revision"]] = (down,) if isinstance(down, str) else tuple(down or ())
    return graph


def heads_of(service: str, root: Path = REPO) -> list[str]:
    graph = migration_graph(service, root)
    below = {down for downs in graph.values() for down in downs}
    return sorted(revision for revision in graph if revision not in below)


def head_of(service: str, root: Path = REPO) -> str:
    """The single head revision of `service`."""
    heads = heads_of(service, root)
    assert len(heads) == 1, f"{service} has heads {heads}"
    return heads[0]


def parent_of(service: str, revision: str, root: Path = REPO) -> str | None:
    downs = migration_graph(service, root)[revision]
    return downs[0] if downs else None


def revisions_of(service: str, root: Path = REPO) -> list[str]:
    """The service's revisions, oldest first (a linear history)."""
    chain: list[str] = []
    current: str | None = head_of(service, root)
    while current is not None:
        chain.append(current)
        current = parent_of(service, current, root)
    return chain[::-1]


def versions_folder(project: Path, service: str) -> Path:
    return project / declared_services(project)[service]["path"] / "alembic" / "versions"


def version_files(project: Path, service: str) -> set[str]:
    return {path.name for path in versions_folder(project, service).glob("*.py")}


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in `path` with `new` (a test editing a copy must hit exactly one place)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}, found {text.count(old)}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def plant_migration(project: Path, service: str, revision: str, down_revision: str | None, body: str = "pass") -> Path:
    """Write a hand-made migration file into the copy's versions folder."""
    path = versions_folder(project, service) / f"{revision}_planted.py"
    path.write_text(
        f'"""planted by the tests"""\n\n'
        f"revision = {revision!r}\n"
        f"down_revision = {down_revision!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        f"    {body}\n\n\n"
        "def downgrade() -> None:\n"
        "    pass\n",
        encoding="utf-8",
    )
    return path


def plant_model_column(project: Path, service: str, column: str = "color") -> str:
    """Add a nullable String column to the first declarative model of the service's code; return its table."""
    folder = project / declared_services(project)[service]["path"]
    for path in sorted(folder.rglob("*.py")):
        if "alembic" in path.relative_to(folder).parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "import sqlalchemy as sa" not in text or "mapped_column" not in text:
            continue
        match = re.search(r'^(    )__tablename__ = "(\w+)"\n', text, re.M)
        if match is None:
            continue
        # nullable=True rather than Mapped[str | None]: SQLAlchemy evaluates the annotation, which fails on Python 3.9.
        line = f"{match[1]}{column}: Mapped[str] = mapped_column(sa.String(20), nullable=True)\n"
        path.write_text(text[: match.end()] + line + text[match.end() :], encoding="utf-8")
        return match[2]
    raise AssertionError(f"no declarative model found under {folder}")


# A first revision creating one table, as a test writes it into a service made with `alembic init`.
TABLE_MIGRATION = '''"""create {table}"""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))


def downgrade():
    op.drop_table("{table}")
'''
