"""`dbtasks check-files`: the migration files checked without a database, Alembic or env.py (the pre-commit hook).

Each test runs the command as a process in a copy of a project and asserts the exit code, the exact lines and that
no file changed; the hook is run the way pre-commit runs it, in a git repository with the files staged."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _support import REPO, head_of, parent_of, plant_migration, replace_once, show, version_files, versions_folder

HOOKS = REPO / ".pre-commit-hooks.yaml"
LAYOUTS = REPO / "examples" / "layouts"
BIN = Path(sys.executable).parent
SERVICES = ("users", "habits", "movements", "meals", "practices", "journal")


def check_files(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbtasks check-files ARGS` in `cwd`, with no database anywhere (a closed port) and no bytecode written."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(DATABASE_URL="postgresql://nobody:secret@127.0.0.1:1/nowhere", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "dbtasks", "check-files", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` and its content, to prove a run changed nothing."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def total_files(project: Path) -> int:
    return sum(len(version_files(project, service)) for service in SERVICES)


def problems(project: Path, *args: str) -> list[str]:
    """The lines of a failing run (problems, then the summary): exit 1, nothing on stderr, no file changed."""
    before = files_of(project)
    result = check_files(project, *args)
    assert result.returncode == 1, show(result)
    assert result.stderr == "", show(result)
    assert files_of(project) == before
    return result.stdout.splitlines()


def versions(service: str) -> str:
    return f"services/{service}/alembic/versions"


# -- clean projects ------------------------------------------------------------------------------


def test_the_repository_services_are_clean(project: Path) -> None:
    before = files_of(project)
    result = check_files(project)
    assert result.returncode == 0, show(result)
    assert result.stdout == f"check-files: 6 services, {total_files(project)} migration files: no problems\n"
    assert result.stderr == ""
    assert files_of(project) == before


def test_the_layouts_example_is_clean(tmp_path: Path) -> None:
    root = tmp_path / "layouts"
    shutil.copytree(LAYOUTS, root, ignore=shutil.ignore_patterns("__pycache__", ".dbtasks"))
    count = len(list(root.glob("*/alembic/versions/*.py")))
    result = check_files(root)
    assert result.returncode == 0, show(result)
    assert result.stdout == f"check-files: 6 services, {count} migration files: no problems\n"


def test_it_reads_the_files_without_importing_alembic_or_running_env_py(project: Path) -> None:
    """env.py that would fail (and leave a mark) if run, and a check that no Alembic or SQLAlchemy module was imported."""
    for service in SERVICES:
        env_py = project / "services" / service / "alembic" / "env.py"
        env_py.write_text(env_py.read_text(encoding="utf-8") + "\nopen('ENV_PY_RAN', 'w').close()\nraise SystemExit(3)\n")
    code = (
        "import sys\nfrom dbtasks.__main__ import main\ncode = main(['check-files'])\n"
        "imported = sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'sqlalchemy', 'psycopg2', 'asyncpg'))\n"
        "print('imported:', imported)\nsys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, show(result)
    assert "imported: []" in result.stdout.splitlines()
    assert not (project / "ENV_PY_RAN").exists()


# -- each planted problem: its line, the summary, exit 1, the files unchanged -------------------------


def test_two_heads_name_both_and_the_merge(project: Path) -> None:
    head = head_of("habits", project)
    plant_migration(project, "habits", "aaaaaaaaaaaa", parent_of("habits", head, project))
    assert problems(project) == [
        f"{versions('habits')}: habits has 2 heads, {head} ({next(n for n in version_files(project, 'habits') if n.startswith(head))}), "
        "aaaaaaaaaaaa (aaaaaaaaaaaa_planted.py); merge them: inv db.merge habits",
        f"check-files: 1 problem in habits (6 services, {total_files(project)} migration files); fix it, then run 'dbtasks check-files' again",
    ]


def test_a_missing_down_revision_names_the_file_its_line_and_the_head_to_follow(project: Path) -> None:
    plant_migration(project, "movements", "bbbbbbbbbbbb", "0123456789ab")
    assert problems(project, "movements")[0] == (
        f"{versions('movements')}/bbbbbbbbbbbb_planted.py:4: down_revision 0123456789ab is declared by no file; "
        f"point it at {head_of('movements', REPO)} (the head of the other files), or restore the file that declares 0123456789ab"
    )


def test_a_revision_declared_twice_names_the_copy(project: Path) -> None:
    original = next(n for n in version_files(project, "users") if n.startswith(head_of("users", project)))
    text = (versions_folder(project, "users") / original).read_text(encoding="utf-8")
    (versions_folder(project, "users") / "cccccccccccc_copy.py").write_text(text, encoding="utf-8")
    line = next(number for number, source in enumerate(text.splitlines(), 1) if re.match(r"revision\b", source))
    lines = problems(project, "users")
    assert lines[0] == (
        f"{versions('users')}/cccccccccccc_copy.py:{line}: declares revision {head_of('users', REPO)}, as {original} does; "
        "give this file a new revision id (and point the down_revision that meant it there)"
    )
    assert len(lines) == 2  # the copy's name is not reported too: it needs a new id first


def test_a_file_not_named_after_its_revision_gets_its_new_name(project: Path) -> None:
    head = head_of("habits", project)
    old = next(versions_folder(project, "habits").glob(f"{head}_*.py"))
    slug = old.stem.partition("_")[2]
    old.rename(old.with_name(f"189b00000000_{slug}.py"))
    line = next(
        n
        for n, source in enumerate(old.with_name(f"189b00000000_{slug}.py").read_text().splitlines(), 1)
        if source.startswith("revision")
    )
    assert problems(project, "habits")[0] == (
        f"{versions('habits')}/189b00000000_{slug}.py:{line}: declares revision {head}, but its name does not start with it; "
        f"rename it {head}_{slug}.py (alembic.ini's file_template names files <revision>_<slug>.py)"
    )


@pytest.mark.parametrize("template", ["%%(year)d_%%(month).2d_%%(day).2d-%%(rev)s_%%(slug)s", "%%(slug)s"])
def test_names_are_free_when_file_template_does_not_start_with_the_revision(project: Path, template: str) -> None:
    head = head_of("habits", project)
    old = next(versions_folder(project, "habits").glob(f"{head}_*.py"))
    old.rename(old.with_name("2024_05_01-soft_delete.py"))
    replace_once(project / "services/habits/alembic.ini", "[alembic]\n", f"[alembic]\nfile_template = {template}\n")
    result = check_files(project, "habits")
    assert result.returncode == 0, show(result)


def test_a_syntax_error_names_its_line(project: Path) -> None:
    path = next(versions_folder(project, "meals").glob("*.py"))
    lines = path.read_text(encoding="utf-8").count("\n")
    path.write_text(path.read_text(encoding="utf-8") + "def upgrade(:\n", encoding="utf-8")
    assert problems(project, "meals") == [
        f"{versions('meals')}/{path.name}:{lines + 1}: does not parse (SyntaxError: invalid syntax); fix the syntax",
        f"check-files: 1 problem in meals (1 service, {len(version_files(project, 'meals'))} migration files); "
        "fix it, then run 'dbtasks check-files' again",
    ]  # and the files whose down_revision it declares are not reported as broken


def test_a_cycle_and_a_missing_revision_constant(project: Path) -> None:
    plant_migration(project, "journal", "d1d1d1d1d1d1", "d2d2d2d2d2d2")
    plant_migration(project, "journal", "d2d2d2d2d2d2", "d1d1d1d1d1d1")
    assert problems(project, "journal")[0] == (
        f"{versions('journal')}/d1d1d1d1d1d1_planted.py:4: revisions d1d1d1d1d1d1 -> d2d2d2d2d2d2 -> d1d1d1d1d1d1 form a "
        "cycle through down_revision; point one of them at the revision it really follows"
    )
    (versions_folder(project, "practices") / "helpers.py").write_text("VALUE = 1\n", encoding="utf-8")
    assert problems(project, "practices")[0] == (
        f"{versions('practices')}/helpers.py: declares no revision; add revision = '<id>' (Alembic cannot load it without one)"
    )


def test_env_py_must_parse_too(project: Path) -> None:
    (project / "services/users/alembic/env.py").write_text("config = (\n", encoding="utf-8")
    said = "'(' was never closed" if sys.version_info >= (3, 10) else "unexpected EOF while parsing"  # Python's own words
    assert (
        problems(project, "users")[0] == f"services/users/alembic/env.py:1: does not parse (SyntaxError: {said}); fix the syntax"
    )


def test_what_only_alembic_can_read_is_named_not_failed(project: Path) -> None:
    """A computed revision id, and migrations in recursive folders: said to be unchecked, exit 0."""
    plant_migration(project, "meals", "eeeeeeeeeeee", None)
    planted = versions_folder(project, "meals") / "eeeeeeeeeeee_planted.py"
    replace_once(planted, "revision = 'eeeeeeeeeeee'", "revision = 'eeee' + 'eeeeeeee'")
    replace_once(project / "services/users/alembic.ini", "[alembic]\n", "[alembic]\nrecursive_version_locations = true\n")
    result = check_files(project, "meals", "users")
    assert result.returncode == 0, show(result)
    assert result.stdout.splitlines() == [
        "services/meals/alembic/versions/eeeeeeeeeeee_planted.py:3: revision is computed, not a literal; meals's history "
        "is not checked here ('inv db.verify meals' checks it)",
        "services/users/alembic.ini: users's migrations are in a package or in recursive folders, which only Alembic can "
        "list; not checked here ('inv db.verify users' checks them)",
        f"check-files: 2 services, {len(version_files(project, 'meals'))} migration files: no problems; 2 not checked (above)",
    ]


# -- choosing services and the configuration --------------------------------------------------------


def test_named_services_only_and_every_problem_of_every_service(project: Path) -> None:
    plant_migration(project, "habits", "aaaaaaaaaaaa", None)
    plant_migration(project, "meals", "bbbbbbbbbbbb", "0123456789ab")
    assert check_files(project, "users", "movements").returncode == 0
    lines = problems(project)
    assert [line.split(":")[0].split("/")[1] for line in lines[:-1]] == ["habits", "meals"]
    assert lines[-1].startswith("check-files: 2 problems in habits, meals (6 services, ")


def test_the_nearest_migrations_yaml_or_config(project: Path, tmp_path: Path) -> None:
    plant_migration(project, "habits", "aaaaaaaaaaaa", "0123456789ab")
    inside = check_files(project / "services" / "habits")
    assert inside.returncode == 1, show(inside)
    assert inside.stdout.startswith("alembic/versions/aaaaaaaaaaaa_planted.py:4: ")  # paths relative to where it runs
    (tmp_path / "elsewhere").mkdir()
    elsewhere = check_files(tmp_path / "elsewhere", "--config", str(project / "migrations.yaml"), "habits")
    assert elsewhere.stdout.startswith(f"{project}/services/habits/alembic/versions/aaaaaaaaaaaa_planted.py:4: "), show(elsewhere)


@pytest.mark.parametrize(
    ("args", "edit", "message"),
    [
        ((), ("driver: asyncpg\n    depends_on: [users]\n    expect_tables: [habits", "driver: asyncpgg\n    depends_on: [users]\n    expect_tables: [habits"),
         "migrations.yaml:14: services.habits.driver: expected asyncpg, psycopg2 or psycopg (psycopg 3), got 'asyncpgg'"),
        (("habit",), None, "unknown service 'habit'; did you mean 'habits'? known: users, habits, movements, meals, practices, journal"),
        (("--jobs", "2"), None, "dbtasks check-files: unknown option '--jobs'; usage: dbtasks check-files [--config migrations.yaml] [SERVICE...]"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    project: Path, args: tuple[str, ...], edit: tuple[str, str] | None, message: str
) -> None:
    if edit:
        replace_once(project / "migrations.yaml", *edit)
    result = check_files(project, *args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n"), show(result)


def test_no_migrations_yaml(tmp_path: Path) -> None:
    result = check_files(tmp_path)
    assert result.returncode == 2, show(result)
    assert result.stderr == (
        "migrations.yaml: not found in this folder or any folder above; run 'dbtasks check-files' in the monorepo "
        "or pass --config FILE\n"
    )


# -- the pre-commit hook ---------------------------------------------------------------------------

# What pre-commit documents for a hook in .pre-commit-hooks.yaml (https://pre-commit.com/#creating-new-hooks).
HOOK_REQUIRED = {"id", "name", "entry", "language"}
HOOK_OPTIONAL = {
    "files", "exclude", "types", "types_or", "exclude_types", "always_run", "fail_fast", "verbose", "pass_filenames",
    "require_serial", "description", "language_version", "minimum_pre_commit_version", "args", "stages",
    "additional_dependencies", "log_file",
}  # fmt: skip


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=dbtasks tests", "-c", "user.email=tests@dbtasks.invalid", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, *args], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, show(result)
    return result.stdout


def committed_project(root: Path) -> Path:
    """A copy of the project as a git repository with everything committed."""
    root.mkdir()
    shutil.copy2(REPO / "migrations.yaml", root / "migrations.yaml")
    shutil.copytree(REPO / "services", root / "services", ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "services")
    return root


def the_hook() -> dict[str, object]:
    manifest = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(manifest, list) and len(manifest) == 1
    hook = manifest[0]
    assert isinstance(hook, dict)
    return hook


def test_the_hook_manifest_uses_only_documented_keys() -> None:
    hook = the_hook()
    assert HOOK_REQUIRED <= set(hook) <= HOOK_REQUIRED | HOOK_OPTIONAL
    assert (hook["id"], hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "dbtasks-check-files", "dbtasks check-files", "python", False
    )  # fmt: skip
    files = re.compile(str(hook["files"]))
    for path in ("migrations.yaml", "services/habits/alembic.ini", "services/habits/alembic/env.py",
                 "services/habits/alembic/versions/189b1231afd4_bootstrap_tables.py", "a/b/versions/x.py"):  # fmt: skip
        assert files.search(path), path
    for path in ("README.md", "services/habits/habits_service/models.py", "services/habits/alembic/versions/notes.txt",
                 "services/habits/alembic/versions/old/x.py", "my_env.py", "other.yaml"):  # fmt: skip
        assert not files.search(path), path


def run_hook_as_pre_commit_would(root: Path) -> subprocess.CompletedProcess[str] | None:
    """The entry run in the repository's root when a staged file matches `files` (None: pre-commit skips it)."""
    hook = the_hook()
    staged = git(root, "diff", "--cached", "--name-only").splitlines()
    if not any(re.search(str(hook["files"]), path) for path in staged):
        return None
    command = shlex.split(str(hook["entry"]))
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=root, capture_output=True, text=True, check=False)


def test_the_hook_entry_on_staged_files_in_a_git_repository(tmp_path: Path) -> None:
    root = committed_project(tmp_path / "repo")
    (root / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    git(root, "add", "notes.txt")
    assert run_hook_as_pre_commit_would(root) is None
    plant_migration(root, "habits", "aaaaaaaaaaaa", None)
    git(root, "add", ".")
    status = git(root, "status", "--porcelain")
    result = run_hook_as_pre_commit_would(root)
    assert result is not None and result.returncode == 1, result and show(result)
    assert result.stdout.startswith("services/habits/alembic/versions: habits has 2 heads, ")
    assert git(root, "status", "--porcelain") == status
    (root / versions("habits") / "aaaaaaaaaaaa_planted.py").unlink()
    env_py = root / "services/habits/alembic/env.py"
    env_py.write_text(env_py.read_text(encoding="utf-8") + "# touched\n", encoding="utf-8")
    git(root, "add", ".")
    clean = run_hook_as_pre_commit_would(root)
    assert clean is not None and clean.returncode == 0, clean and show(clean)


@pytest.mark.slow
@pytest.mark.network
def test_the_hook_through_pre_commit_itself(tmp_path: Path) -> None:
    """pre-commit (a dev dependency), the hook repository (this one's package and manifest, committed) installed by
    pre-commit from the package index as users get it, then run on commits: clean, a planted second head, an unrelated file."""
    tool = Path(sys.executable).with_name("pre-commit")
    hooks = tmp_path / "hook-repo"
    hooks.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO / name, hooks / name)
    shutil.copytree(REPO / "dbtasks", hooks / "dbtasks", ignore=shutil.ignore_patterns("__pycache__"))
    git(hooks, "init", "-q")
    git(hooks, "add", ".")
    git(hooks, "commit", "-q", "-m", "hook")
    rev = git(hooks, "rev-parse", "HEAD").strip()
    root = committed_project(tmp_path / "repo")
    config = {"repos": [{"repo": str(hooks), "rev": rev, "hooks": [{"id": "dbtasks-check-files"}]}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    environment = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never"}

    def pre_commit(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(tool), *args]
        return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, timeout=900, check=False)

    manifest = pre_commit("validate-manifest", str(hooks / ".pre-commit-hooks.yaml"))
    assert manifest.returncode == 0, show(manifest)
    clean = pre_commit("run", "--all-files")
    assert clean.returncode == 0, show(clean)
    assert re.search(r"^dbtasks check-files\.+Passed$", clean.stdout, re.M), show(clean)
    plant_migration(root, "habits", "aaaaaaaaaaaa", None)
    git(root, "add", ".")
    failed = pre_commit("run")
    assert failed.returncode == 1, show(failed)
    assert re.search(r"^dbtasks check-files\.+Failed$", failed.stdout, re.M), show(failed)
    assert "services/habits/alembic/versions: habits has 2 heads, " in failed.stdout
    assert (root / versions("habits") / "aaaaaaaaaaaa_planted.py").is_file()
    git(root, "rm", "-q", "--cached", f"{versions('habits')}/aaaaaaaaaaaa_planted.py")
    (root / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    git(root, "add", "notes.txt")
    skipped = pre_commit("run")
    assert skipped.returncode == 0, show(skipped)
    assert re.search(r"^dbtasks check-files\.+\(no files to check\)Skipped$", skipped.stdout, re.M), show(skipped)
