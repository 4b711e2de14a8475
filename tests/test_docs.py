"""The documentation site: it builds with --strict, and every public name has a reference entry."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import qstash_receiver

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"

# Every module a user (or an adapter's author) imports: DESIGN.md "Public names", the module
# adapters build on, and the stand-in's class for tests. Each exists today.
PUBLIC_MODULES = (
    "qstash_receiver",
    "qstash_receiver.compat",
    "qstash_receiver.testing",
    "qstash_receiver.pytest_plugin",
    "qstash_receiver.publish",
    "qstash_receiver.names",
    "qstash_receiver.integration",
    # The core's layers, in the order a delivery meets them (documented for readers of the
    # source; adapters build on the lifecycle).
    "qstash_receiver.lifecycle",
    "qstash_receiver.guard",
    "qstash_receiver.answers",
    "qstash_receiver.options",
    "qstash_receiver.verify",
    "qstash_receiver.token",
    "qstash_receiver.jws",
    "qstash_receiver.config",
    "qstash_receiver.keys",
    "qstash_receiver.sources",
    "qstash_receiver.public_keys",
    "qstash_receiver.demo_keys",
    "qstash_receiver.headers",
    "qstash_receiver.message",
    "qstash_receiver.errors",
    "qstash_receiver.retry_control",
    "qstash_receiver.cli",
    "qstash_receiver.cli.dev.server",
    "qstash_receiver.adapters.aws_lambda",
    "qstash_receiver.adapters.aws_lambda.middleware",
    "qstash_receiver.adapters.aws_lambda.urls",
    "qstash_receiver.adapters.aws_lambda.testing",
    "qstash_receiver.adapters.gcf",
    "qstash_receiver.adapters.flask",
    "qstash_receiver.adapters.django",
    "qstash_receiver.adapters.django.asgi",
    "qstash_receiver.adapters.fastapi",
    "qstash_receiver.adapters.starlette",
    "qstash_receiver.adapters.wsgi",
    "qstash_receiver.adapters.asgi",
    "qstash_receiver.adapters.http_server",
    "qstash_receiver.telemetry",
    "qstash_receiver.adapters.aws_lambda.powertools",
    "qstash_receiver.adapters.aiohttp",
    "qstash_receiver.adapters.azure_functions",
    "qstash_receiver.adapters.workflow",
)
# They arrive with the at-least-once work; each must get its reference entry (a `::: module`
# line where the reference page's comment says) as soon as it exists.
COMING_MODULES = (
    "qstash_receiver.dedupe",
    "qstash_receiver.callbacks",
    "qstash_receiver.adapters.aws_lambda.idempotency",
)
# A module of constants without __all__: its public names are the ones its own source
# defines at the top level (imports left out).
WITHOUT_ALL = frozenset({"qstash_receiver.names"})


def documented_modules() -> list[str]:
    """The modules named by a ``::: module`` line in the reference pages."""
    return [
        match.group(1)
        for page in sorted(REFERENCE.rglob("*.md"))
        for match in re.finditer(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    ]


def defined_names(module: ModuleType) -> list[str]:
    """The public names a module's own source binds at its top level."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if not name.startswith("_")]


def public_names(module: ModuleType) -> list[str]:
    if module.__name__ in WITHOUT_ALL:
        assert not hasattr(module, "__all__"), "it has __all__ now: drop it from WITHOUT_ALL"
        return defined_names(module)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__: its public names are unknown"
    return list(names)


@pytest.fixture(scope="module")
def site(built: Path) -> str:
    """The HTML of the built site's reference pages."""
    return "\n".join(page.read_text() for page in sorted(built.glob("reference/**/*.html")))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (built here, so that the checks see these sources)."""
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
    return out


def test_code_blocks_wrap_long_lines_with_a_hanging_indent(built: Path) -> None:
    # At 1280 px a code block is ~70 characters wide: long lines wrap (CSS) rather than being
    # cut at its edge, each line a span so that a continuation is indented.
    page = (built / "platforms" / "fastapi" / "index.html").read_text()
    assert 'href="../../stylesheets/extra.css"' in page
    assert '<span id="__span-0-1">' in page
    css = (built / "stylesheets" / "extra.css").read_text()
    assert "white-space: pre-wrap" in css
    assert 'span[id^="__span-"]' in css


def test_every_existing_public_module_has_a_reference_entry() -> None:
    documented = documented_modules()
    assert len(documented) == len(set(documented)), "a module is documented twice"
    missing = [name for name in PUBLIC_MODULES if importlib.util.find_spec(name) is None]
    assert missing == []  # today's modules are found
    arrived = [name for name in COMING_MODULES if importlib.util.find_spec(name) is not None]
    assert [name for name in (*PUBLIC_MODULES, *arrived) if name not in documented] == []
    known = (*PUBLIC_MODULES, *COMING_MODULES)
    assert [name for name in documented if name not in known] == []


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


def make_dry_run(*targets: str, venv: Path) -> str:
    """The commands ``make`` would run for ``targets`` with ``venv`` as the environment."""
    if not (make := shutil.which("make")):
        pytest.skip("make is not installed")
    run = subprocess.run(
        [make, "--dry-run", "--always-make", f"VENV={venv}", *targets],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_make_docs_installs_the_docs_group_not_the_toolchain(tmp_path: Path) -> None:
    commands = make_dry_run("docs", venv=tmp_path / "fresh")  # a fresh clone: no environment
    assert "--group docs" in commands
    assert "--group dev" not in commands
    assert "[all]" not in commands
    assert "mkdocs build --strict" in commands
    served = make_dry_run("docs-serve", venv=tmp_path / "fresh")
    assert "mkdocs serve --dev-addr 127.0.0.1:8000" in served  # loopback only
    assert "--group dev" not in served


def test_make_test_still_builds_the_docs_strictly(tmp_path: Path) -> None:
    commands = make_dry_run("test", venv=tmp_path / "fresh")
    assert "--group dev" in commands
    assert "mkdocs build --strict" in commands


def backticked(text: str) -> list[str]:
    return re.findall(r"`([\w-]+)`", text)


def test_the_readme_lists_every_extra() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (make test's): 3.10 skips
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(declared["optional-dependencies"]) - {"all"}
    readme = (ROOT / "README.md").read_text()
    sentence = re.search(r"^Extras: (.*?); the core needs none\.", readme, re.MULTILINE | re.DOTALL)
    assert sentence is not None, "the README's 'Extras: ...; the core needs none.' is gone"
    listed = backticked(sentence.group(1))
    assert sorted(set(listed) - {"all"}) == sorted(extras)
    assert len(listed) == len(set(listed))
    table = (ROOT / "docs" / "install.md").read_text()
    assert sorted(set(re.findall(r"^\| `([\w-]+)` \|", table, re.MULTILINE)) - {"all"}) == sorted(
        extras
    )


def test_the_migration_page_names_the_demo_extras_of_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    demo_extras = re.search(r"^DEMO_EXTRAS := (\S+)$", makefile, re.MULTILINE)
    assert demo_extras is not None
    page = (ROOT / "docs" / "migration.md").read_text()
    named = re.findall(r"`qstash-receiver\[([\w,-]+)\]`\s+\(the Makefile's `DEMO_EXTRAS`\)", page)
    assert named == [demo_extras.group(1)]


RAW_ROLE = re.compile(r":(class|meth|func|attr|mod|data|exc|obj):(<code>|`)")


def test_the_reference_shows_no_raw_rest(site: str) -> None:
    """Docstrings render as Markdown: cross-references are links, examples code blocks (no
    reST role such as :class:`X` shown as text, no stray '::' paragraph)."""
    assert RAW_ROLE.findall(site) == []
    assert re.findall(r"::</p>", site) == []
    assert site.count('class="autorefs autorefs-internal"') > 100  # the links they became


def test_the_check_sees_raw_rest() -> None:
    page = "<p>Use :class:<code>Receiver</code> here::</p>"
    assert RAW_ROLE.findall(page) != []
    assert re.findall(r"::</p>", page) != []


def test_the_reference_leads_with_what_users_use(built: Path) -> None:
    core = (built / "reference" / "core" / "index.html").read_text()
    entries = re.findall(r'id="(qstash_receiver\.[A-Za-z_]+)"', core)
    # After __version__: the receiver and its message (classes come before functions).
    assert entries[1:3] == ["qstash_receiver.Receiver", "qstash_receiver.VerifiedMessage"]
    adapters = sorted(
        p.parent.name for p in (built / "reference" / "adapters").glob("*/index.html")
    )
    assert len(adapters) >= 12  # one page per adapter
    for page in (built / "reference" / "adapters").glob("*/index.html"):
        assert page.read_text().count('id="qstash_receiver.adapters.') >= 1
