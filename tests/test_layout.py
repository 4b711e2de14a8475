"""The layout rules of DESIGN.md: core/ runs in production only; the demo is not in the wheel."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_no_core_module_starts_a_server_or_a_subprocess() -> None:
    pattern = re.compile(r"subprocess|http\.server|socketserver")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a source file imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_no_core_module_imports_httpx() -> None:
    # Publishing goes through the official SDK; the core has no HTTP client of its own.
    imports = {path: imported_modules(path) for path in sorted((ROOT / "core").rglob("*.py"))}
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path, names in imports.items()
        for name in sorted(names)
        if name == "httpx" or name.startswith("httpx.")
    ]
    assert offenders == []
    # The scan sees what a module imports, inside a try block too.
    assert "qstash" in imports[ROOT / "core" / "publish.py"]


@pytest.mark.parametrize(
    "module",
    [
        "qstash_receiver.demo",
        "qstash_receiver.cli.e2e",
        "qstash_receiver.cli.cases",
        "qstash_receiver.cli.services",
    ],
)
def test_the_demo_machinery_is_not_in_the_package(module: str) -> None:
    # The strict editable install lays out exactly the wheel's package tree.
    assert importlib.util.find_spec(module) is None


def test_the_cli_package_comes_from_the_cli_folder() -> None:
    spec = importlib.util.find_spec("qstash_receiver.cli")
    assert spec is not None
    assert spec.origin is not None
    installed = sorted(p.name for p in Path(spec.origin).parent.glob("*.py"))
    assert installed == sorted(p.name for p in (ROOT / "cli").glob("*.py"))
