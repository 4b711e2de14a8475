"""Importing the core stays cheap: no HTTP client, event loop, crypto library or JWT library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "asyncio", "cryptography", "jwt", "qstash")

PROBE = """
import json, sys
heavy = {heavy!r}
def loaded():
    return sorted(
        name for name in sys.modules
        if any(name == top or name.startswith(top + ".") for top in heavy)
    )
before = loaded()
{imports}
print(json.dumps({{"before": before, "after": loaded()}}))
"""


def probe(imports: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, imports=imports)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "imports",
    [
        "import qstash_receiver",
        "import qstash_receiver.testing",
        "from qstash_receiver import *",
        "from qstash_receiver.testing import sign, signed_headers, DEMO_ENV",
        "import qstash_receiver.cli",  # the console script: only `dev` needs httpx
    ],
)
def test_core_imports_no_heavy_modules(imports: str) -> None:
    result = probe(imports)
    assert result["before"] == []  # otherwise the check below could not see anything
    assert result["after"] == []


def test_probe_detects_a_heavy_import() -> None:
    # The same probe does see a heavy module when one is imported.
    assert "jwt" in probe("import jwt")["after"]


def test_every_public_name_resolves() -> None:
    import qstash_receiver
    import qstash_receiver.testing

    for module in (qstash_receiver, qstash_receiver.testing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


# Every web framework an adapter is written for (and the servers' libraries they pull in).
FRAMEWORKS = (
    "starlette", "fastapi", "flask", "werkzeug", "django", "falcon", "litestar", "quart",
    "functions_framework", "aws_lambda_powertools", "anyio", "asgiref", "gunicorn", "uvicorn",
)  # fmt: skip
NEUTRAL = (
    "qstash_receiver.adapters.wsgi",
    "qstash_receiver.adapters.asgi",
    "qstash_receiver.adapters.http_server",
)


@pytest.mark.parametrize("module", NEUTRAL)
def test_a_neutral_adapter_imports_no_framework(module: str) -> None:
    # Every framework blocked (None in sys.modules fails its import), and none loaded after.
    blocked = "".join(f"sys.modules[{name!r}] = None\n" for name in FRAMEWORKS)
    script = f"import json, sys\n{blocked}import {module}\n" + (
        "print(json.dumps(sorted(n for n in sys.modules if sys.modules[n] is not None and "
        f"n.split('.')[0] in {FRAMEWORKS!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    if module != "qstash_receiver.adapters.asgi":  # sync adapters: no event loop either
        assert probe(f"import {module}")["after"] == []


@pytest.mark.parametrize(
    ("module", "own"),
    [
        ("qstash_receiver.adapters.starlette", {"starlette", "anyio"}),
        ("qstash_receiver.adapters.flask", {"flask", "werkzeug"}),
    ],
)
def test_a_framework_adapter_imports_its_framework_only(module: str, own: set[str]) -> None:
    script = (
        f"import json, sys\nimport {module}\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} & "
        f"set({FRAMEWORKS!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) <= own


# Each adapter imports its own framework and no other: an app on one stack never pays for (or
# needs installed) another's. Values: the frameworks an adapter may load (its own, and what
# it is built on).
ADAPTER_FRAMEWORKS = (
    "aiohttp",
    "azure.functions",
    "upstash_workflow",
    "flask",
    "django",
    "starlette",
    "fastapi",
    "functions_framework",
    "aws_lambda_powertools",
    "falcon",
    "litestar",
    "quart",
)
ADAPTERS = {
    "qstash_receiver.adapters.aiohttp": {"aiohttp"},
    "qstash_receiver.adapters.azure_functions": {"azure.functions"},
    "qstash_receiver.adapters.workflow": set(),  # the qstash SDK's Receiver, not the workflow SDK
    "qstash_receiver.adapters.flask": {"flask"},
    "qstash_receiver.adapters.gcf": {"flask"},
    "qstash_receiver.adapters.django": {"django"},
    "qstash_receiver.adapters.starlette": {"starlette"},
    "qstash_receiver.adapters.fastapi": {"fastapi", "starlette"},
    "qstash_receiver.adapters.aws_lambda": {"aws_lambda_powertools"},
}

FRAMEWORK_PROBE = """
import json, sys
import {module}
frameworks = {frameworks!r}
print(json.dumps(sorted(f for f in frameworks if f in sys.modules)))
"""


@pytest.mark.parametrize("module", sorted(ADAPTERS))
def test_an_adapter_imports_no_other_framework(module: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FRAMEWORK_PROBE.format(module=module, frameworks=ADAPTER_FRAMEWORKS),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == ADAPTERS[module]


def test_the_framework_probe_sees_a_framework() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FRAMEWORK_PROBE.format(module="aiohttp.web", frameworks=ADAPTER_FRAMEWORKS),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == ["aiohttp"]


@pytest.mark.parametrize(
    "module", ["qstash_receiver.adapters.wsgi", "qstash_receiver.adapters.asgi"]
)
def test_the_wsgi_and_asgi_middlewares_load_no_http_server(module: str) -> None:
    """What only the http.server adapter uses (the standard library's server, which brings
    ``http.client`` and ``ssl``) is not loaded by an app on WSGI or ASGI: a cold start pays
    only for what it serves with."""
    script = (
        f"import json, sys\nimport {module}\n"
        "print(json.dumps(sorted(n for n in ('http.server', 'socketserver', 'ssl') "
        "if n in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
