"""Part 4 of ``make demo``: watching the old region drain with ``qstash-receiver migrate status``.

The Flask sample runs in migration mode (primary US_EAST_1). Through EU_CENTRAL_1, the old
region, the official SDK creates a schedule whose messages wait 6 s before delivery; the
stand-in fires it at once (as its cron would), so EU has a schedule and a message in flight:
``migrate status`` says it is not drained. The schedule is deleted, its last message is
delivered (and verified by the sample with EU_CENTRAL_1's keys), and ``migrate status`` then
says EU_CENTRAL_1 is drained: its keys could go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qstash import QStash

from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.config import load_config
from qstash_receiver.names import Region
from qstash_receiver.publish import qstash_client

from .e2e import _sample_env
from .services import Services, free_port

__all__ = ["Step", "run"]

OLD: Region = "EU_CENTRAL_1"
DELAY = 6  # seconds each scheduled message waits: long enough to see it in flight
_GUNICORN = (sys.executable, "-m", "gunicorn", "--workers", "1", "--log-level", "warning")


@dataclass(frozen=True)
class Step:
    """One checked step of the part: what was expected, and whether it happened."""

    what: str
    ok: bool
    detail: str


def migrate_status(env: Mapping[str, str]) -> tuple[int, list[str]]:
    """``qstash-receiver migrate status`` as an operator runs it; exit status and lines."""
    done = subprocess.run(
        [sys.executable, "-m", "qstash_receiver.cli", "migrate", "status"],
        env=dict(env), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).splitlines()


def _status_step(env: Mapping[str, str], want: str, code: int, say: Callable[[str], None]) -> Step:
    got, lines = migrate_status(env)
    say(f"$ qstash-receiver migrate status   (exit {got})")
    say("\n".join(f"    {line}" for line in lines))
    return Step(f'migrate status: "{want}"', got == code and want in lines, f"exit {got}")


def run(root: Path, say: Callable[[str], None] = print) -> tuple[list[Step], list[str]]:
    """Serve the Flask sample, drain EU_CENTRAL_1; the checked steps and any problems."""
    with DevServer(default_retries=2, backoff=0.2, timeout=10) as dev, Services() as services:
        port = free_port()
        command = [*_GUNICORN, "-b", f"127.0.0.1:{port}", "--chdir", "samples/flask_app",
                   "app:app"]  # fmt: skip
        url = f"http://127.0.0.1:{port}/qstash"
        flask = services.start("flask", command, url=url, env=_sample_env(dev), cwd=root)
        why = services.wait_ready(flask)
        if why is not None:
            return [], [f"flask {why}:\n{flask.output_tail()}"]
        eu = qstash_client(OLD, config=load_config(dev.env("US_EAST_1")))
        try:
            return _drain(dev, eu, url, say), []
        finally:
            eu.http._client.close()  # the SDK offers no close(): its connection pool


def _drain(dev: DevServer, eu: QStash, url: str, say: Callable[[str], None]) -> list[Step]:
    # What an operator's shell holds: the process environment and the migration env.
    shell = {**os.environ, **dev.env("US_EAST_1")}
    steps: list[Step] = []
    schedule_id = eu.schedule.create_json(
        destination=url, cron="*/5 * * * *", body={"report": "hourly"}, delay=f"{DELAY}s"
    )
    say(f"{OLD}: schedule {schedule_id} created through the official SDK (cron */5 * * * *,")
    say(f"    each message delivered {DELAY} s after it is made) -> {url}")
    [last] = dev.fire_schedule(OLD, schedule_id)
    say(f"the stand-in fires it now, as its cron would: message {last} waits {DELAY} s")
    steps.append(_status_step(shell, f"{OLD} not drained: 1 schedule, 1 in flight", 1, say))
    eu.schedule.delete(schedule_id)
    say(f"{OLD}: schedule {schedule_id} deleted; waiting for its last message...")
    attempt = dev.wait_for(last, timeout=DELAY + 20)
    try:
        answer = json.loads(attempt.response_body)
    except ValueError:
        answer = {}
    delivered = attempt.ok and isinstance(answer, dict) and answer.get("key_region") == OLD
    region = answer.get("key_region") if isinstance(answer, dict) else None
    detail = f"{attempt.status}, verified with {region} keys"
    say(f"message {last} delivered to the Flask sample: {detail}")
    steps.append(Step(f"the last {OLD} message delivered and verified", delivered, detail))
    steps.append(_status_step(shell, f"{OLD} drained", 0, say))
    return steps
