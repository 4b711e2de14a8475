"""Part 2 of ``make demo``: every sample on a real local server, deliveries through the stand-in.

Genuine messages are published through both regions of the stand-in with the official SDK's
client from :func:`~qstash_receiver.publish.qstash_client` (one per region, by name); forged
deliveries (tampered body, the other
region's keys, expired) are sent straight to each endpoint. Every sample runs in migration
mode from environment variables only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from qstash import QStash
from qstash.errors import QStashError
from qstash.message import PublishResponse

from qstash_receiver import names as E
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.config import load_config
from qstash_receiver.names import Region
from qstash_receiver.publish import qstash_client

from .cases import FORGED, forge
from .services import Service, Services, free_port

__all__ = ["CASES", "PLATFORMS", "Outcome", "Platform", "legend", "run", "table"]

CASES = ("genuine", *FORGED)
_GUNICORN = (sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level", "warning")


@dataclass(frozen=True)
class Platform:
    """A sample, how to serve it on a port, and the endpoint paths to deliver to."""

    name: str  # the "platform" value its handler answers with
    label: str
    served_by: str
    sample: str
    paths: tuple[str, ...]
    command: Callable[[int], list[str]]


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "flask", "flask", "gunicorn app:app", "samples/flask_app/app.py", ("/qstash",),
        lambda port: [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir", "samples/flask_app",
                      "app:app"],
    ),
    Platform(
        "gcf", "gcf", "functions-framework --target qstash_handler",
        "samples/gcf/main.py", ("/qstash",),
        lambda port: [sys.executable, "-m", "functions_framework", "--target", "qstash_handler",
                      "--source", "samples/gcf/main.py", "--host", "127.0.0.1",
                      "--port", str(port)],
    ),
    Platform(
        "django", "django", "gunicorn qstash_sample.wsgi:application",
        "samples/django_app/manage.py",
        ("/qstash/function/", "/qstash/class/", "/qstash/async-function/", "/qstash/async-class/"),
        lambda port: [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir", "samples/django_app",
                      "qstash_sample.wsgi:application"],
    ),
    Platform(
        "fastapi", "fastapi", "uvicorn app:app", "samples/fastapi_app/app.py",
        ("/qstash", "/tasks/bill"),  # the dependency; the Starlette middleware
        lambda port: [sys.executable, "-m", "uvicorn", "app:app", "--app-dir",
                      "samples/fastapi_app", "--host", "127.0.0.1", "--port", str(port),
                      "--no-access-log"],
    ),
    Platform(
        "lambda", "lambda", "handler.handler behind the HTTP API v2 bridge",
        "samples/aws_lambda/handler.py", ("/qstash",),
        lambda port: [sys.executable, "-m", "qstash_receiver.cli.lambda_bridge", "--port",
                      str(port), "--handler", "samples/aws_lambda/handler.py:handler"],
    ),
    Platform(
        "lambda", "lambda-resolver", "resolver_app.lambda_handler behind the bridge",
        "samples/aws_lambda/resolver_app.py", ("/qstash",),
        lambda port: [sys.executable, "-m", "qstash_receiver.cli.lambda_bridge", "--port",
                      str(port), "--handler", "samples/aws_lambda/resolver_app.py:lambda_handler"],
    ),
    Platform(
        "wsgi", "wsgi", "gunicorn app:application (Falcon behind the WSGI middleware)",
        "samples/wsgi_app/app.py", ("/qstash", "/jobs"),
        lambda port: [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir", "samples/wsgi_app",
                      "app:application"],
    ),
    Platform(
        "asgi", "asgi", "uvicorn app:application (Litestar behind the ASGI middleware)",
        "samples/asgi_app/app.py", ("/qstash", "/jobs"),
        lambda port: [sys.executable, "-m", "uvicorn", "app:application", "--app-dir",
                      "samples/asgi_app", "--host", "127.0.0.1", "--port", str(port),
                      "--no-access-log"],
    ),
    Platform(
        "http_server", "http.server", "ThreadingHTTPServer serving the Vercel handler class",
        "samples/vercel/api/qstash.py", ("/api/qstash",),
        lambda port: [sys.executable, "samples/vercel/api/qstash.py", str(port)],
    ),
    Platform(
        "aiohttp", "aiohttp", "python app.py (aiohttp.web.run_app)", "samples/aiohttp_app/app.py",
        ("/qstash", "/tasks/bill"),  # the decorator; the middleware
        lambda port: [sys.executable, "samples/aiohttp_app/app.py", "--host", "127.0.0.1",
                      "--port", str(port)],
    ),
)  # fmt: skip


_NAMES = frozenset(p.name for p in PLATFORMS)


@dataclass(frozen=True)
class Outcome:
    """One cell of the demo table."""

    label: str
    path: str
    region: Region
    case: str
    expected: int
    status: int | None
    ok: bool
    detail: str


def _sample_env(dev: DevServer) -> dict[str, str]:
    """The process environment minus any QStash settings, plus the stand-in's migration env."""
    regional = tuple(f"{region}_QSTASH_" for region in E.REGIONS)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("QSTASH_", *regional)) and name != "DJANGO_SETTINGS_MODULE"
    }
    env.update(dev.env("US_EAST_1"))
    env.update(PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="qstash_sample.settings")
    return env


def _send_forged(
    client: httpx.Client, label: str, path: str, url: str, region: Region, case: str
) -> Outcome:
    headers, raw = forge(case, url, region)
    try:
        response = client.post(url, content=raw, headers=headers)
    except httpx.HTTPError as err:
        return Outcome(label, path, region, case, 401, None, False, type(err).__name__)
    reason = FORGED[case]
    ok = response.status_code == 401 and reason in response.text
    detail = reason if reason in response.text else response.text[:60]
    return Outcome(label, path, region, case, 401, response.status_code, ok, detail)


def _check_genuine(
    dev: DevServer, platform: Platform, service: Service, path: str, region: Region,
    message_id: str,
) -> Outcome:  # fmt: skip
    try:
        attempt = dev.wait_for(message_id, timeout=20)
    except TimeoutError:
        return Outcome(platform.label, path, region, "genuine", 200, None, False, "no delivery")
    try:
        answer: Any = json.loads(attempt.response_body)
    except ValueError:
        answer = None
    expected = {
        "ok": True, "message_id": message_id, "key_region": region, "platform": platform.name
    }  # fmt: skip
    answered = isinstance(answer, dict) and all(answer.get(k) == v for k, v in expected.items())
    logged = f"handled {message_id}" in service.output()  # the contract's log line
    handled = answered and logged
    retried = f", after {attempt.retried} retries" if attempt.retried else ""
    detail = f"handled, {region} keys{retried}"
    if not handled:
        detail = "unexpected handler answer" if not answered else "no 'handled' log line"
    if attempt.status is None:
        detail = f"no answer ({attempt.error})"
    return Outcome(
        platform.label, path, region, "genuine", 200, attempt.status, attempt.ok and handled, detail
    )


def _publish_json(client: QStash, url: str, body: object) -> str:
    response = client.message.publish_json(url=url, body=body)
    if not isinstance(response, PublishResponse):  # a URL group's answer: not asked for here
        raise QStashError(f"unexpected answer to a publish: {response!r}")
    return response.message_id


def _exercise(dev: DevServer, ready: Sequence[tuple[Platform, Service, str]]) -> list[Outcome]:
    # One configuration (US_EAST_1 primary, as the samples run); each region by name.
    config = load_config(dev.env("US_EAST_1"))
    clients = {r: qstash_client(r, config=config) for r in E.REGIONS}
    pending: list[tuple[Platform, Service, str, Region, str]] = []
    outcomes: list[Outcome] = []
    try:
        with httpx.Client(timeout=10) as client:
            for platform, service, base in ready:
                for path, region in [(p, r) for p in platform.paths for r in E.REGIONS]:
                    url = base + path
                    body = {"case": "genuine", "platform": platform.name, "region": region}
                    try:
                        message_id = _publish_json(clients[region], url, body)
                        pending.append((platform, service, path, region, message_id))
                    except (QStashError, httpx.HTTPError) as err:
                        outcomes.append(
                            Outcome(platform.label, path, region, "genuine", 200, None,
                                    False, f"{type(err).__name__}: {err}"[:200])
                        )  # fmt: skip
                    outcomes += [
                        _send_forged(client, platform.label, path, url, region, case)
                        for case in FORGED
                    ]
    finally:
        for sdk in clients.values():
            sdk.http._client.close()  # the SDK offers no close(): its connection pool
    return outcomes + [_check_genuine(dev, *item) for item in pending]


def run(
    root: Path, names: Sequence[str] | None = None, say: Callable[[str], None] = print
) -> tuple[list[Outcome], list[str]]:
    """Serve the samples under ``root``, deliver every case; return outcomes and problems.

    ``problems`` names each sample that is missing or did not start (with its output).
    """
    chosen = [p for p in PLATFORMS if names is None or p.name in names]
    problems = [f"unknown platform: {n}" for n in names or () if n not in _NAMES]
    problems += [f"missing: {p.sample}" for p in chosen if not (root / p.sample).is_file()]
    present = [p for p in chosen if (root / p.sample).is_file()]
    ready: list[tuple[Platform, Service, str]] = []
    with DevServer(default_retries=2, backoff=0.2, timeout=10) as dev, Services() as services:
        env = _sample_env(dev)
        started = []
        for platform in present:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            service = services.start(
                platform.label, platform.command(port), url=base + platform.paths[0],
                env=env, cwd=root,
            )  # fmt: skip
            started.append((platform, service, base))
        say(f"started {len(started)} sample servers and the stand-in; waiting for them...")
        for platform, service, base in started:
            why = services.wait_ready(service)
            if why is None:
                ready.append((platform, service, base))
            else:
                problems.append(f"{platform.label} {why}:\n{service.output_tail()}")
        outcomes = _exercise(dev, ready)
        for platform, service, _base in ready:
            if service.process.poll() is not None:
                problems.append(f"{platform.label} died:\n{service.output_tail()}")
    return outcomes, problems


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The outcomes as text rows: one per endpoint and region, one column per case."""
    header = ["platform", "endpoint", "region", *CASES]
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for o in outcomes:
        cell = f"{o.status if o.status is not None else '---'} {'ok' if o.ok else 'FAIL'}"
        rows.setdefault((o.label, o.path, o.region), {})[o.case] = cell
    body = [[*key, *(cells.get(case, "-") for case in CASES)] for key, cells in rows.items()]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def legend() -> list[str]:
    """How each platform is served, and what each case expects."""
    lines = [f"  {p.label:<16} {p.served_by} ({p.sample})" for p in PLATFORMS]
    forged = ", ".join(f"{case} -> {reason}" for case, reason in FORGED.items())
    return [
        *lines,
        "  genuine: published through that region of the stand-in; expects 200 from the handler",
        "           itself (JSON naming the message id and region, and its 'handled' log line)",
        "  forged:  sent straight to the endpoint; expects 401 naming the reason",
        f"           ({forged})",
    ]
