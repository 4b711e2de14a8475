"""The test servers of tests/servers/ (gunicorn, functions-framework, uvicorn) on loopback.

Imported as a top-level module by tests (pytest puts tests/ on ``sys.path``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qstash_demo.services import Service, serving

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVERS_DIR = "tests/servers"
#: Keys of these tests' own: some servers play a deployed function (K_SERVICE set), where the
#: published demo keys are refused.
US_CURRENT = "sig_limitsUsCurrent00000000000000"
KEYS = {
    "QSTASH_REGION": "US_EAST_1",
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": US_CURRENT,
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": "sig_limitsUsNext0000000000000000000",
}
#: Only what the servers need: no QSTASH_* variable of this process can leak in.
ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **KEYS}


def _gunicorn(app: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *(str(BIN / "gunicorn"), app, "--chdir", SERVERS_DIR),
        *("-b", f"127.0.0.1:{port}", "--no-control-socket"),
    ]


def _functions_framework(target: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *(str(BIN / "functions-framework"), "--source", f"{SERVERS_DIR}/gcf_limits.py"),
        *("--target", target, "--host", "127.0.0.1", "--port", str(port)),
    ]


def _uvicorn(app: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *(sys.executable, "-m", "uvicorn", app, "--app-dir", SERVERS_DIR),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]


#: server name -> its command line for a port.
COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "gunicorn-flask": _gunicorn("flask_limits:proxied"),
    "functions-framework": _functions_framework("qstash_limits"),
    "functions-framework-unchecked": _functions_framework("unchecked"),
    "gunicorn-django": _gunicorn("django_limits:wsgi"),
    "uvicorn-django": _uvicorn("django_limits:asgi"),
    "uvicorn-django-unwrapped": _uvicorn("django_limits:asgi_unwrapped"),
    "uvicorn-fastapi": _uvicorn("asgi_limits:app"),
    "uvicorn-starlette-middleware": _uvicorn("asgi_limits:app"),
}


@contextmanager
def serve(name: str, log_path: Path, **env: str) -> Iterator[Service]:
    """Start a test server, wait until it answers HTTP, and always stop it."""
    with serving(
        name,
        COMMANDS[name],
        env={**ENV, **env},
        cwd=ROOT,
        ready_path="/",  # any answer (404 or 401) means ready
        log_path=log_path,
    ) as service:
        yield service
