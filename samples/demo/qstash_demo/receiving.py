"""Part 3 of ``make demo``: at-least-once receiving on the Flask, Django and Lambda samples.

Through the stand-in, for each sample's job endpoint (guarded: ``dedupe=``) and callback
endpoint: a message the stand-in delivers twice (``X-Dev-Deliver-Twice``) runs the job once and
its copy is answered 200 ``duplicate``; a job the handler refuses with ``NonRetryableError``
(489) is dead-lettered after one attempt; and the failure callback about it reaches the
callback endpoint, which parses it with ``parse_callback`` and logs its DLQ id.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from qstash_receiver.cli.dev.server import Attempt, DevServer
from qstash_receiver.config import load_config
from qstash_receiver.names import Region

from .e2e import _sample_env
from .services import Service, Services, free_port

__all__ = ["CASES", "TARGETS", "Row", "Target", "run", "table"]

CASES = ("duplicate", "non-retryable", "failure-callback")
_REGION: Region = "US_EAST_1"
_GUNICORN = (sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level", "warning")
_BRIDGE = (sys.executable, "-m", "qstash_receiver.cli.lambda_bridge")


@dataclass(frozen=True)
class Target:
    """A sample's job and callback endpoints, and how to serve each (one server may do both)."""

    name: str
    jobs: tuple[str, Callable[[int], list[str]]]  # path, command(port)
    callbacks: tuple[str, Callable[[int], list[str]]] | None  # None: the jobs server has it


TARGETS: tuple[Target, ...] = (
    Target(
        "flask",
        ("/jobs", lambda port: [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir",
                                "samples/flask_app", "app:app"]),
        None,
    ),
    Target(
        "django",
        ("/qstash/jobs/", lambda port: [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir",
                                        "samples/django_app", "qstash_sample.wsgi:application"]),
        None,
    ),
    Target(
        "lambda",
        ("/jobs", lambda port: [*_BRIDGE, "--port", str(port), "--handler",
                                "samples/aws_lambda/handler.py:jobs"]),
        ("/callbacks", lambda port: [*_BRIDGE, "--port", str(port), "--handler",
                                     "samples/aws_lambda/handler.py:callbacks"]),
    ),
)  # fmt: skip

_CALLBACK_PATHS = {"flask": "/callbacks", "django": "/qstash/callbacks/"}


@dataclass(frozen=True)
class Row:
    """One cell of the table: a case on a sample, and what happened."""

    platform: str
    case: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class _Running:
    target: Target
    jobs: Service
    callbacks: Service
    callback_url: str


def _publish(dev: DevServer, destination: str, body: object, headers: dict[str, str]) -> str:
    outgoing = load_config(dev.env(_REGION)).outgoing
    token = outgoing.token.reveal() if outgoing.token else ""
    answer = httpx.post(
        f"{outgoing.url}/v2/publish/{destination}",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
        timeout=10,
    )
    answer.raise_for_status()
    message_id: str = answer.json()["messageId"]
    return message_id


def _final(dev: DevServer, message_id: str | None) -> Attempt | None:
    if message_id is None:
        return None
    try:
        return dev.wait_for(message_id, timeout=20)
    except TimeoutError:
        return None


def _exercise(dev: DevServer, running: _Running) -> list[Row]:
    name = running.target.name
    jobs_url = running.jobs.url
    rows: list[Row] = []

    twice = _publish(dev, jobs_url, {"case": "duplicate"}, {"X-Dev-Deliver-Twice": "true"})
    last = _final(dev, twice)
    runs = len(re.findall(rf"handled {twice}\b", running.jobs.output()))
    copy_answered = last is not None and last.duplicate and last.ok
    copy_text = last.response_body.decode("utf-8", "replace") if last else "no delivery"
    rows.append(
        Row(name, "duplicate", copy_answered and runs == 1 and "duplicate" in copy_text,
            f"delivered twice, handled {runs}x, copy answered {last.status if last else '---'} "
            f"{copy_text!r}")
    )  # fmt: skip

    refused = _publish(
        dev, jobs_url, {"case": "non-retryable"}, {"Upstash-Failure-Callback": running.callback_url}
    )
    final = _final(dev, refused)
    dead = [d for d in dev.dead_letters if d.message.message_id == refused]
    ok = final is not None and final.status == 489 and final.retried == 0 and bool(dead)
    detail = (
        f"489 after 1 attempt, dead-lettered as {final.dlq_id}"
        if ok and final is not None
        else f"got {final.status if final else '---'}, dead letters: {len(dead)}"
    )
    rows.append(Row(name, "non-retryable", ok, detail))

    report = _final(dev, final.failure_callback_id if final else None)
    logged = (
        final is not None
        and final.dlq_id is not None
        and (
            f"failure callback for {refused}: status 489, dlq {final.dlq_id}"
            in running.callbacks.output()
        )
    )
    rows.append(
        Row(name, "failure-callback", bool(report and report.ok and logged),
            f"callback answered {report.status if report else '---'}, parsed and logged"
            if logged else "no 'failure callback' log line")
    )  # fmt: skip
    return rows


def run(
    root: Path, names: Sequence[str] | None = None, say: Callable[[str], None] = print
) -> tuple[list[Row], list[str]]:
    """Serve the chosen samples, run the three cases on each; the rows and any problems."""
    chosen = [t for t in TARGETS if names is None or t.name in names]
    rows: list[Row] = []
    problems: list[str] = []
    with DevServer(default_retries=2, backoff=0.2, timeout=10) as dev, Services() as services:
        env = _sample_env(dev)
        started: list[tuple[Target, Service, Service]] = []
        for target in chosen:
            path, command = target.jobs
            port = free_port()
            jobs = services.start(
                f"{target.name}-jobs", command(port), url=f"http://127.0.0.1:{port}{path}",
                env=env, cwd=root,
            )  # fmt: skip
            callbacks = jobs
            if target.callbacks is not None:
                cb_path, cb_command = target.callbacks
                cb_port = free_port()
                callbacks = services.start(
                    f"{target.name}-callbacks", cb_command(cb_port),
                    url=f"http://127.0.0.1:{cb_port}{cb_path}", env=env, cwd=root,
                )  # fmt: skip
            started.append((target, jobs, callbacks))
        say(f"started {len(started)} samples for the receiving cases; waiting for them...")
        for target, jobs, callbacks in started:
            whys = [
                services.wait_ready(s) for s in {id(jobs): jobs, id(callbacks): callbacks}.values()
            ]
            if any(whys):
                problems.append(f"{target.name}: {'; '.join(w for w in whys if w)}")
                continue
            callback_url = (
                callbacks.url
                if target.callbacks is not None
                else jobs.url.removesuffix(target.jobs[0]) + _CALLBACK_PATHS[target.name]
            )
            rows += _exercise(dev, _Running(target, jobs, callbacks, callback_url))
    return rows, problems


def table(rows: Sequence[Row]) -> list[str]:
    """One line per sample and case."""
    width = max((len(r.platform) for r in rows), default=8)
    return [
        f"{r.platform:<{width}}  {r.case:<17} {'ok  ' if r.ok else 'FAIL'}  {r.detail}"
        for r in rows
    ]
