"""The layout rules of DESIGN.md: core/ runs in production only; the demo is not in the wheel."""

from __future__ import annotations

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
