"""The two-region stand-in: publish API, deliveries as QStash sends them, retries, CLI."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from loopback import QuietHandler, in_thread
from publishing import message_id, sdk_client
from qstash import QStash
from qstash.errors import QStashError
from qstash_demo.services import free_port
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.cli.dev.server import DevServer, parse_duration
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS


@dataclass
class Delivery:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Endpoint:
    """A destination that answers with ``statuses`` in turn (then the last one again)."""

    url: str = ""
    statuses: list[int] = field(default_factory=lambda: [200])
    extra_headers: dict[str, str] = field(default_factory=dict)
    received: list[Delivery] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(QuietHandler):
        def _record(self) -> None:
            headers, body = self.read_request()
            state.received.append(Delivery(self.command, self.path, headers, body, time.time()))
            index = min(len(state.received), len(state.statuses)) - 1
            self.send_response(state.statuses[index])
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _record

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        state.url = f"{url}/hook"
        yield state


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


def publisher(dev: DevServer, region: Region) -> AbstractContextManager[QStash]:
    """The official SDK's client for ``region`` of the stand-in (migration mode, primary)."""
    return sdk_client(config=load_config(dev.env(region)))


def publish(client: QStash, url: str, body: bytes = b"", **options: Any) -> str:
    """Publish ``body`` to ``url`` with the SDK's options; the message id."""
    return message_id(client.message.publish(url=url, body=body, **options))


RECEIVER = Receiver(config=load_config(DEMO_ENV))


@pytest.mark.parametrize("region", ["EU_CENTRAL_1", "US_EAST_1"])
def test_delivery_carries_what_qstash_sends(
    dev: DevServer, endpoint: Endpoint, region: Region
) -> None:
    with publisher(dev, region) as client:
        sent = publish(
            client,
            endpoint.url,
            b'{"n": 1}',
            content_type="application/json",
            method="PUT",
            headers={"X-Trace": "t-1"},
        )
    attempt = dev.wait_for(sent)
    assert (attempt.ok, attempt.status, attempt.retried, attempt.region) == (True, 200, 0, region)
    [delivery] = endpoint.received
    assert (delivery.method, delivery.path, delivery.body) == ("PUT", "/hook", b'{"n": 1}')
    headers = delivery.headers
    assert headers["upstash-region"] == region.replace("_", "-")
    assert headers["upstash-message-id"] == sent
    assert headers["upstash-retried"] == "0"
    assert headers["user-agent"] == "Upstash-QStash"
    assert headers["content-type"] == "application/json"
    assert headers["x-trace"] == "t-1"
    assert not any(name.startswith("upstash-forward-") for name in headers)
    assert "authorization" not in headers
    result = check_request(RECEIVER, headers, delivery.body, url=endpoint.url)
    assert isinstance(result, VerifiedMessage)
    assert (result.key_region, result.key_used) == (region, "current")
    assert result.forwarded_headers["x-trace"] == "t-1"
    # Signed with this region's key only: the other region's keys refuse it.
    other: Region = "US_EAST_1" if region == "EU_CENTRAL_1" else "EU_CENTRAL_1"
    wrong = Receiver(*DEMO_KEYS[other])
    assert not isinstance(check_request(wrong, headers, delivery.body), VerifiedMessage)


def test_publish_needs_the_token_of_that_region(dev: DevServer, endpoint: Endpoint) -> None:
    eu_token = DEMO_ENV["EU_CENTRAL_1_QSTASH_TOKEN"]
    answer = httpx.post(
        f"{dev.url('US_EAST_1')}/v2/publish/{endpoint.url}",
        headers={"Authorization": f"Bearer {eu_token}"},
    )
    assert answer.status_code == 401
    assert httpx.post(f"{dev.url('US_EAST_1')}/v2/publish/{endpoint.url}").status_code == 401
    assert endpoint.received == []


@pytest.mark.parametrize(
    ("path", "headers", "status", "error"),
    [
        ("/v2/enqueue/q/https://x.test", {}, 404, "serves POST /v2/publish"),
        ("/v2/publish/not-a-url", {}, 400, "invalid destination url"),
        ("/v2/publish/https://x.test", {"Upstash-Method": "TRACE"}, 400, "Upstash-Method"),
        ("/v2/publish/https://x.test", {"Upstash-Delay": "soon"}, 400, "Upstash-Delay"),
        ("/v2/publish/https://x.test", {"Upstash-Retries": "-1"}, 400, "must not be negative"),
    ],
)
def test_bad_publishes_get_a_clear_error(
    dev: DevServer, path: str, headers: dict[str, str], status: int, error: str
) -> None:
    token = DEMO_ENV["US_EAST_1_QSTASH_TOKEN"]
    answer = httpx.post(
        dev.url("US_EAST_1") + path, headers={"Authorization": f"Bearer {token}", **headers}
    )
    assert answer.status_code == status
    assert error in answer.json()["error"]


def test_negative_content_length_is_refused_not_read_to_eof(dev: DevServer) -> None:
    # httpx refuses to send it, so a raw socket; the connection stays open, as a client's
    # would, so a server reading "to the end" would wait until the timeout below.
    token = DEMO_ENV["US_EAST_1_QSTASH_TOKEN"]
    port = int(dev.url("US_EAST_1").rsplit(":", 1)[1])
    request = (
        "POST /v2/publish/https://x.test HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: -1\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request.encode())
        answer = ""
        while "invalid Content-Length" not in answer:  # headers and body may come apart
            chunk = client.recv(4096).decode()
            if not chunk:
                break
            answer += chunk
    assert answer.startswith("HTTP/1.1 400 ")
    assert "invalid Content-Length" in answer
    assert dev.attempts == []


def test_publish_error_surfaces_through_the_sdk(dev: DevServer) -> None:
    with publisher(dev, "EU_CENTRAL_1") as client, pytest.raises(QStashError) as caught:
        publish(client, "https://x.test", method="GET", delay="later")
    assert "status: 400" in str(caught.value)
    assert "Upstash-Delay" in str(caught.value)


def test_non_2xx_is_retried_with_a_growing_retried_header(
    dev: DevServer, endpoint: Endpoint
) -> None:
    endpoint.statuses = [503, 500, 200]
    with publisher(dev, "US_EAST_1") as client:
        final = dev.wait_for(publish(client, endpoint.url, b"again"))
    assert (final.ok, final.retried) == (True, 2)
    assert [d.headers["upstash-retried"] for d in endpoint.received] == ["0", "1", "2"]
    assert [a.status for a in dev.attempts] == [503, 500, 200]
    assert len({d.headers["upstash-message-id"] for d in endpoint.received}) == 1


def test_retries_stop_after_upstash_retries(dev: DevServer, endpoint: Endpoint) -> None:
    endpoint.statuses = [500]
    with publisher(dev, "US_EAST_1") as client:
        final = dev.wait_for(publish(client, endpoint.url, retries=1))
    assert (final.ok, final.final, final.retried, final.status) == (False, True, 1, 500)
    assert len(endpoint.received) == 2


def test_default_retries_are_three(endpoint: Endpoint) -> None:
    endpoint.statuses = [500]
    with DevServer(backoff=0.01) as dev, publisher(dev, "EU_CENTRAL_1") as client:
        final = dev.wait_for(publish(client, endpoint.url))
    assert final.retried == 3
    assert len(endpoint.received) == 4


def test_non_retryable_answer_stops_retries(dev: DevServer, endpoint: Endpoint) -> None:
    endpoint.statuses = [489]
    endpoint.extra_headers = {"Upstash-NonRetryable-Error": "true"}
    with publisher(dev, "US_EAST_1") as client:
        final = dev.wait_for(publish(client, endpoint.url))
    assert (final.final, final.status, len(endpoint.received)) == (True, 489, 1)


def test_unreachable_destination_is_recorded(dev: DevServer) -> None:
    with publisher(dev, "US_EAST_1") as client:
        final = dev.wait_for(publish(client, f"http://127.0.0.1:{free_port()}/x", retries=0))
    assert final.status is None
    assert final.error is not None
    assert final.final


def test_delay_is_honoured(dev: DevServer, endpoint: Endpoint) -> None:
    with publisher(dev, "US_EAST_1") as client:
        published = time.time()
        sent = publish(client, endpoint.url, delay="300ms")
    dev.wait_for(sent)
    assert endpoint.received[0].at - published >= 0.3


def test_deduplication_id_publishes_once(dev: DevServer, endpoint: Endpoint) -> None:
    with publisher(dev, "US_EAST_1") as client:
        first = publish(client, endpoint.url, b"a", deduplication_id="d-1")
        second = publish(client, endpoint.url, b"b", deduplication_id="d-1")
        third = publish(client, endpoint.url, b"c", content_based_deduplication=True)
        fourth = publish(client, endpoint.url, b"c", content_based_deduplication=True)
    assert first == second
    assert third == fourth
    dev.wait_for(first)
    dev.wait_for(third)
    assert sorted(d.body for d in endpoint.received) == [b"a", b"c"]


def test_env_block_is_a_migration_mode_config() -> None:
    with DevServer() as dev:
        config = load_config(dev.env("EU_CENTRAL_1"))
        assert config.primary_region == "EU_CENTRAL_1"
        assert config.outgoing.url == dev.url("EU_CENTRAL_1")
        assert set(config.region_keys) == {"EU_CENTRAL_1", "US_EAST_1"}
        assert config.warnings == ()


def test_parse_duration() -> None:
    assert [parse_duration(v) for v in ("10s", "500ms", "2m", "1h", "3", "1d")] == [
        10, 0.5, 120, 3600, 3, 86400,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")


def test_stop_cancels_pending_deliveries(endpoint: Endpoint) -> None:
    dev = DevServer().start()
    try:
        with publisher(dev, "US_EAST_1") as client:
            publish(client, endpoint.url, delay="60s")
    finally:
        dev.stop()  # must not wait a minute for the delayed delivery
    assert endpoint.received == []
    assert dev.attempts == []


def test_python_sdk_publishes_to_the_stand_in(dev: DevServer, endpoint: Endpoint) -> None:
    from qstash import QStash
    from qstash.message import PublishResponse

    env = dev.env("EU_CENTRAL_1")
    client = QStash(env["EU_CENTRAL_1_QSTASH_TOKEN"], base_url=env["EU_CENTRAL_1_QSTASH_URL"])
    try:
        response = client.message.publish_json(
            url=endpoint.url, body={"sdk": "python"}, headers={"X-From": "sdk"}, retries=1
        )
    finally:
        client.http._client.close()  # the SDK offers no close(); avoid a leaked socket
    assert isinstance(response, PublishResponse)
    assert dev.wait_for(response.message_id).ok
    delivery = endpoint.received[0]
    assert json.loads(delivery.body) == {"sdk": "python"}
    assert delivery.headers["x-from"] == "sdk"
    assert isinstance(check_request(RECEIVER, delivery.headers, delivery.body), VerifiedMessage)


_ENV_LINE = re.compile(r'^([A-Z0-9_]+)="(.*)"$')


def test_cli_dev_prints_the_env_block_and_deliveries(endpoint: Endpoint) -> None:
    command = [sys.executable, "-m", "qstash_receiver.cli", "dev", "--eu-port", "0",
               "--us-port", "0", "--backoff", "0.05"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Waiting for publishes"):
            line = process.stdout.readline()
            assert line, f"dev exited early: {lines}"
            lines.append(line.rstrip("\n"))
        output = "\n".join(lines)
        assert "LOCAL STAND-IN for QStash" in output
        assert "NOT QStash credentials" in output
        env = {m[1]: m[2] for m in map(_ENV_LINE.match, lines) if m}
        assert env["QSTASH_REGION"] == "US_EAST_1"
        assert env["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"] == DEMO_KEYS["US_EAST_1"][0]
        with sdk_client(config=load_config(env)) as client:
            sent = message_id(client.message.publish_json(url=endpoint.url, body={"via": "cli"}))
        outcome = process.stdout.readline()
        assert f"[US_EAST_1] {sent} POST {endpoint.url}" in outcome
        assert "-> 200 delivered" in outcome
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=15)
        assert "stopping" in rest
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_chunked_publish_is_refused_not_sent_on_empty(dev: DevServer) -> None:
    token = DEMO_ENV["US_EAST_1_QSTASH_TOKEN"]

    def chunks() -> Iterator[bytes]:
        yield b'{"hello": "world"}'

    answer = httpx.post(
        f"{dev.url('US_EAST_1')}/v2/publish/https://x.test/hook",
        headers={"Authorization": f"Bearer {token}"},
        content=chunks(),  # no length known: httpx sends Transfer-Encoding: chunked
    )
    assert answer.status_code == 411
    assert dev.attempts == []
