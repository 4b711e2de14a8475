"""The module map's rules (issue: one delivery lifecycle): no import cycle among the core's
modules (imports inside functions included), production code never imports the testing
helpers, and no module in core/, adapters/ or cli/ is over 350 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "core": "qstash_receiver",
    "adapters": "qstash_receiver.adapters",
    "cli": "qstash_receiver.cli",
}
MAX_LINES = 350
TESTING = {"qstash_receiver.testing", "qstash_receiver.pytest_plugin"}


def modules() -> dict[str, Path]:
    """Every module of the package, by import name, from the source folders."""
    found: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The package's modules that ``name`` imports, anywhere in its source (functions and
    ``TYPE_CHECKING`` blocks included: a lazy import that dodges a cycle is still one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (target for target in targets if target in known and target != name)


def graph(names: dict[str, Path]) -> dict[str, set[str]]:
    return {name: set(imported(name, path, names)) for name, path in names.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def core_graph() -> dict[str, set[str]]:
    names = modules()
    core = {n: p for n, p in names.items() if p.is_relative_to(ROOT / "core")}
    # A package's __init__ re-exports its modules; importing one of them from a sibling is
    # an edge to that sibling, not to the package, so the package itself is left out.
    return {n: e - {"qstash_receiver"} for n, e in graph(core).items() if n != "qstash_receiver"}


def test_no_import_cycle_among_the_core_modules() -> None:
    assert cycles(core_graph()) == []


def test_the_cycle_check_finds_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    """The check can fail: an import inside a function closes a cycle it reports."""
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import y\n")
    known = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py"}
    assert cycles(graph(known)) == [["pkg.a", "pkg.b"]]


def test_no_production_module_imports_the_testing_helpers() -> None:
    names = modules()
    production = {n: p for n, p in names.items() if n not in TESTING and ".testing" not in n}
    offenders = {
        name: sorted(targets & TESTING)
        for name, targets in graph(names).items()
        if name in production and targets & TESTING
    }
    assert offenders == {}


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_no_module_is_over_350_lines(folder: str) -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (count := len(path.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


#: The adapters of the new stacks are shape translation on the core's lifecycle, each one module
#: (with the shared private plumbing of its family: _gateway, _asgi, _aiohttp).
THIN_ADAPTERS = ("wsgi", "asgi", "http_server", "aiohttp", "azure_functions", "workflow")
THIN_LINES = 150


def test_each_new_stack_adapter_is_under_150_lines() -> None:
    long = {
        name: count
        for name in THIN_ADAPTERS
        if (count := len((ROOT / "adapters" / f"{name}.py").read_text("utf-8").splitlines()))
        >= THIN_LINES
    }
    assert long == {}
