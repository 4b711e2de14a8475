"""The documentation site: it builds with --strict, and every public name has a reference entry."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import qstash_receiver

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"

# DESIGN.md "Public names": every module a user imports. The last four arrive with the ASGI
# and at-least-once work; each must get its reference entry as soon as it exists.
PUBLIC_MODULES = (
    "qstash_receiver",
    "qstash_receiver.testing",
    "qstash_receiver.publish",
    "qstash_receiver.cli",
    "qstash_receiver.adapters.aws_lambda",
    "qstash_receiver.adapters.aws_lambda.middleware",
    "qstash_receiver.adapters.aws_lambda.testing",
    "qstash_receiver.adapters.gcf",
    "qstash_receiver.adapters.flask",
    "qstash_receiver.adapters.django",
    "qstash_receiver.adapters.fastapi",
    "qstash_receiver.adapters.starlette",
    "qstash_receiver.dedupe",
    "qstash_receiver.callbacks",
)


def documented_modules() -> list[str]:
    """The modules named by a ``::: module`` line in the reference pages."""
    return [
        match.group(1)
        for page in sorted(REFERENCE.glob("*.md"))
        for match in re.finditer(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    ]


def public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__: its public names are unknown"
    return list(names)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The HTML of the built site (built here, so that the check sees these sources)."""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return "\n".join(page.read_text() for page in sorted(out.glob("reference/**/*.html")))


def test_every_existing_public_module_has_a_reference_entry() -> None:
    documented = documented_modules()
    assert len(documented) == len(set(documented)), "a module is documented twice"
    existing = [name for name in PUBLIC_MODULES if importlib.util.find_spec(name) is not None]
    assert existing[:10] == list(PUBLIC_MODULES[:10])  # today's modules are found
    assert [name for name in existing if name not in documented] == []
    assert [name for name in documented if name not in PUBLIC_MODULES] == []


def test_every_public_name_has_an_entry_in_the_built_site(site: str) -> None:
    missing = []
    for module_name in documented_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            if f'id="{module_name}.{name}"' in site:
                continue
            # The core's names that adapters re-export are documented once, under Core.
            reexported = getattr(qstash_receiver, name, None)
            if (
                module is not qstash_receiver
                and reexported is getattr(module, name)
                and f'id="qstash_receiver.{name}"' in site
            ):
                continue
            missing.append(f"{module_name}.{name}")
    assert missing == []


def test_the_check_sees_a_missing_entry(site: str) -> None:
    # The anchors the check looks for are the ones mkdocstrings writes.
    assert 'id="qstash_receiver.Receiver"' in site
    assert 'id="qstash_receiver.adapters.flask.verify_qstash"' in site
    assert 'id="qstash_receiver.NoSuchName"' not in site
