"""The package's layers, read from every import statement of every module, also those inside functions (an import
that runs late is still a dependency): no cycle at any depth, the core never imports Invoke or dbtasks.cli, nothing
outside cli/ prints or exits, and the worker imports nothing of dbtasks outside worker/."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import REPO

PACKAGE = REPO / "dbtasks"
# Entry points: `python -m dbtasks` and the worker's own process (its stdout is the protocol) may print and exit.
ENTRY_POINTS = {"dbtasks.__main__", "dbtasks.worker.__main__"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported(path: Path, name: str, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(module, line) for every import in the file, at any depth; a package's own __init__ counts (it runs first)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                yield ".".join(parts[:depth]), node.lineno


def graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules it imports; a module's own enclosing packages are left out (they run before it does)."""
    known = modules(root)
    return {
        name: {
            target for target, _ in imported(path, name, known) if target in known and not (name + ".").startswith(target + ".")
        }
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_at_any_depth() -> None:
    assert cycles(graph(PACKAGE)) == []


def test_a_cycle_planted_inside_a_function_is_found(tmp_path: Path) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("from . import second\n")
    (package / "second.py").write_text("def late():\n    from .third import value\n    return value\n")
    (package / "third.py").write_text("def later():\n    from planted import first\n    return first\n")
    assert cycles(graph(package)) == [["planted.first", "planted.second", "planted.third"]]


def core_modules() -> dict[str, Path]:
    return {name: path for name, path in modules(PACKAGE).items() if not name.startswith(("dbtasks.cli", "dbtasks.worker"))}


def test_the_core_never_imports_invoke_or_the_cli() -> None:
    known = modules(PACKAGE)
    found = [
        f"{name}:{line} imports {target}"
        for name, path in core_modules().items()
        if name not in ENTRY_POINTS
        for target, line in imported(path, name, known)
        if target.split(".")[0] == "invoke" or target.startswith("dbtasks.cli")
    ]
    assert found == []


_OS_EXITS = {("os", "_exit"), ("os", "dup2")}


def prints_or_exits(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "exit", "quit"):
            yield f"{node.func.id}() at line {node.lineno}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys":
            if node.attr in ("exit", "stdout", "stderr"):
                yield f"sys.{node.attr} at line {node.lineno}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in _OS_EXITS:
            yield f"os.{node.attr} at line {node.lineno}"


@pytest.mark.parametrize("name", sorted(set(core_modules()) - ENTRY_POINTS))
def test_nothing_outside_the_cli_prints_or_exits(name: str) -> None:
    assert list(prints_or_exits(core_modules()[name])) == []


def test_the_worker_imports_nothing_of_dbtasks_outside_the_worker() -> None:
    known = modules(PACKAGE)
    found = [
        f"{name}:{line} imports {target}"
        for name, path in known.items()
        if name.startswith("dbtasks.worker")
        for target, line in imported(path, name, known)
        if target.split(".")[0] == "dbtasks"
        and target not in ("dbtasks", "dbtasks.worker")
        and not target.startswith("dbtasks.worker.")
    ]
    assert found == []


def test_no_top_level_module_shares_a_room_s_name() -> None:
    rooms = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    flat = [path.stem for path in PACKAGE.glob("*.py")]
    assert [name for name in flat if any(name == room or name.startswith(room + "_") for room in rooms)] == []


def test_every_room_says_what_it_is_for() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init.parent.name}/__init__.py has no docstring"


def test_no_module_over_400_lines() -> None:
    long = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules(PACKAGE).items()}
    assert {name: lines for name, lines in long.items() if lines > 400} == {}


def test_the_library_api_loads_on_first_use() -> None:
    import subprocess

    script = (
        "import sys, dbtasks\n"
        "print(sorted(m for m in sys.modules if m.startswith('dbtasks')))\n"
        "print(dbtasks.load.__module__, dbtasks.Session.__module__, dbtasks.verbs.__name__, dbtasks.verbs_all.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines() == ["['dbtasks']", "dbtasks.config dbtasks.session dbtasks.verbs dbtasks.verbs_all"]
