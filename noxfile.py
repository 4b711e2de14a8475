"""The version matrix: what the classifiers and the README's "Tested with" promise.

- ``tests-3.10`` ... ``tests-3.13``: the whole suite, with every extra, on each supported Python.
  An interpreter that is not installed is skipped and named, never silently passed over.
- ``<framework>-lowest`` / ``<framework>-newest``: that framework's tests against the floor its
  extra declares (``uv pip install --resolution lowest-direct``) on the oldest Python, and
  against its newest release on the newest Python. A lowest session fails unless the installed
  version *is* the declared floor, so the floor in pyproject.toml is the tested one.

Run ``make matrix`` (or ``.venv/bin/nox -s django-lowest``); the interop tests need
``make node`` first. Environments are created with uv; no Python is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nox

PYTHONS = ("3.10", "3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Framework:
    """One framework the adapters support, and the tests that exercise it."""

    extra: str  # the extra of qstash-receiver that declares the floor
    distribution: str  # the package whose lowest and newest versions are tested
    tests: tuple[str, ...]  # test files or folders, globs relative to the repository


# Adding a framework to the matrix is one line here (and a classifier if it has one).
FRAMEWORKS = {
    "django": Framework("django", "django", ("tests/django_adapter",)),
    "flask": Framework("flask", "flask", ("tests/test_flask_adapter.py",)),
    "functions-framework": Framework(
        "gcf", "functions-framework", ("tests/test_gcf_*.py", "tests/test_flask_gcf_servers.py")
    ),
    "powertools": Framework("lambda", "aws-lambda-powertools", ("tests/test_aws_lambda*.py",)),
    # Starlette comes with FastAPI (at the version FastAPI's floor allows); the Mangum tests
    # need the lambda extra too and run in the tests-* sessions.
    "fastapi": Framework(
        "fastapi",
        "fastapi",
        (
            "tests/test_fastapi_adapter.py",
            "tests/test_starlette_adapter.py",
            "tests/test_asgi_servers.py",
        ),
    ),
    # The framework-neutral middlewares, shown with these frameworks (each also runs the plain
    # apps and, where installed, the others: the test group installs them at their newest).
    "falcon": Framework("falcon", "falcon", ("tests/test_wsgi_servers.py",)),
    "litestar": Framework("litestar", "litestar", ("tests/test_asgi_middleware_servers.py",)),
    "quart": Framework("quart", "quart", ("tests/test_asgi_middleware_servers.py",)),
    "aiohttp": Framework("aiohttp", "aiohttp", ("tests/test_aiohttp_adapter.py",)),
    "azure-functions": Framework("azure", "azure-functions", ("tests/test_azure_functions_*.py",)),
    # The FastAPI serve path needs fastapi, which the workflow extra does not bring: tests-*.
    "upstash-workflow": Framework(
        "workflow", "upstash-workflow", ("tests/test_workflow_receiver.py",)
    ),
}

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [f"tests-{v}" for v in PYTHONS] + [
    f"{name}-{end}" for name in FRAMEWORKS for end in ("lowest", "newest")
]


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` (``"3.12"``): on PATH, else one that pyenv installed.

    A pyenv shim is on PATH for every version pyenv knows but fails for one that is not
    selected, so each candidate is asked for its version before it is used.
    """
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        (str(path) for path in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")),
        reverse=True,
    )
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run(  # noqa: S603 (an interpreter path we found ourselves)
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


INTERPRETERS = {version: find_python(version) for version in PYTHONS}


def _interpreter(session: nox.Session, version: str) -> None:
    if INTERPRETERS[version] is None:
        session.skip(f"Python {version} is not installed (not on PATH, not under pyenv)")


def _install(
    session: nox.Session, extras: str, *, lowest: bool = False, groups: tuple[str, ...] = ("test",)
) -> None:
    """The package from this checkout with ``extras``, then the test tools.

    The project's own requirements are resolved first, alone, so that ``lowest-direct``
    applies to them and not to pytest; the test tools are then added without upgrading them.
    """
    resolution = ["--resolution", "lowest-direct"] if lowest else []
    session.run("uv", "pip", "install", *resolution, f".[{extras}]", silent=True)
    session.run("uv", "pip", "install", *(f"--group={group}" for group in groups), silent=True)


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


def _tests_session(version: str) -> None:
    @nox.session(name=f"tests-{version}", python=INTERPRETERS[version] or False)
    def tests(session: nox.Session) -> None:
        _interpreter(session, version)
        # The whole suite: it also builds the docs and the distributions.
        _install(session, "all", groups=("test", "docs", "release"))
        _pytest(session)


def _framework_session(name: str, framework: Framework, end: str) -> None:
    version = PYTHONS[0] if end == "lowest" else PYTHONS[-1]

    @nox.session(name=f"{name}-{end}", python=INTERPRETERS[version] or False)
    def framework_tests(session: nox.Session) -> None:
        _interpreter(session, version)
        _install(session, framework.extra, lowest=end == "lowest")
        session.run(
            "python",
            str(ROOT / "tools" / "matrix_check.py"),
            framework.extra,
            framework.distribution,
            end,
        )
        paths = sorted({str(p) for pattern in framework.tests for p in ROOT.glob(pattern)})
        if not paths:
            session.error(f"no tests match {framework.tests}")
        _pytest(session, *paths)


for _version in PYTHONS:
    _tests_session(_version)
for _name, _framework in FRAMEWORKS.items():
    for _end in ("lowest", "newest"):
        _framework_session(_name, _framework, _end)
