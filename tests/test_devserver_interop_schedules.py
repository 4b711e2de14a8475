"""@upstash/qstash drives the stand-in's schedules, queues, URL groups, dead letters and logs;
the Python SDK and the stand-in see the same schedules, and the one left fires a delivery our
receiver verifies, as do the deliveries to a URL group's endpoints.

The Node client is constructed without options, so it reads the migration-mode environment
block from ``process.env`` (``QSTASH_REGION`` plus that region's URL and token), as in
production. Needs ``make node``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from destination import Answer, Destination, destination
from node_runner import INTEROP
from publishing import sdk_client
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.testing import DEMO_ENV


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as state:
        yield state


def node(dev: DevServer, *args: str) -> Any:
    binary = shutil.which("node")
    if binary is None or not (INTEROP / "node_modules" / "@upstash" / "qstash").is_dir():
        pytest.fail("Node 20 and tests/interop/node_modules are required: run `make node`")
    env = {"PATH": os.environ.get("PATH", ""), **dev.env("EU_CENTRAL_1")}
    done = subprocess.run(
        [binary, "schedules.mjs", *args],
        cwd=INTEROP, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_node_client_creates_reads_pauses_and_deletes_schedules(target: Destination) -> None:
    with DevServer(backoff=0.05, timeout=5) as dev:
        steps = node(dev, "schedules", target.url())
        made = steps["made"]
        assert steps["nightly"] == "node-nightly"
        assert steps["listed"] == sorted([made, "node-nightly"])
        assert steps["paused"] is True
        got = steps["got"]
        assert (got["scheduleId"], got["cron"], got["destination"], got["isPaused"]) == (
            made, "*/10 * * * *", target.url(), False,
        )  # fmt: skip
        assert (got["retries"], got["body"]) == (1, '{"from":"node"}')
        assert steps["left"] == [made]
        # The Python SDK sees the same schedule in EU_CENTRAL_1 (the Node client's primary).
        with sdk_client("EU_CENTRAL_1", config=load_config(dev.env())) as eu:
            assert [s.schedule_id for s in eu.schedule.list()] == [made]
        with sdk_client("US_EAST_1", config=load_config(dev.env())) as us:
            assert us.schedule.list() == []
        [message_id] = dev.fire_schedule("EU_CENTRAL_1", made)
        assert dev.wait_for(message_id).ok
        delivered = node(dev, "logs", "DELIVERED")
    [delivery] = target.at("/hook")
    message = check_request(
        Receiver(config=load_config(DEMO_ENV)), delivery.headers, delivery.body, url=target.url()
    )
    assert isinstance(message, VerifiedMessage), message
    assert (message.key_region, message.json()) == ("EU_CENTRAL_1", {"from": "node"})
    assert delivery.headers["x-interop"] == "node"
    assert delivery.headers["upstash-schedule-id"] == made
    [log] = delivered["logs"]
    assert (log["messageId"], log["state"], log["scheduleId"]) == (message_id, "DELIVERED", made)


def test_node_client_uses_queues_url_groups_and_the_dlq(target: Destination) -> None:
    target.answer("/dead", Answer(500, body=b"down"))
    with DevServer(backoff=0.05, timeout=5) as dev:
        steps = node(dev, "resources", target.url(""))
        assert steps["queues"] == ["node-jobs"]
        assert steps["queue"] == {"name": "node-jobs", "parallelism": 2}
        assert steps["groups"] == [
            {"name": "node-group", "endpoints": [target.url("/a"), target.url("/b")]}
        ]
        for message_id in [*steps["fanned"], steps["dead"]]:
            dev.wait_for(message_id)
        dead = node(dev, "dlq")
        with sdk_client("EU_CENTRAL_1", config=load_config(dev.env())) as eu:
            assert [q.name for q in eu.queue.list()] == ["node-jobs"]  # the same, seen from Python
    assert len(steps["fanned"]) == 2
    receiver = Receiver(config=load_config(DEMO_ENV))
    for path in ("/a", "/b"):
        [delivery] = target.at(path)
        message = check_request(receiver, delivery.headers, delivery.body, url=target.url(path))
        assert isinstance(message, VerifiedMessage), message
        assert (message.key_region, message.json()) == ("EU_CENTRAL_1", {"from": "node"})
        assert delivery.headers["upstash-topic-name"] == "node-group"
    [letter] = dead["messages"]
    assert (letter["messageId"], letter["responseStatus"]) == (steps["dead"], 500)
