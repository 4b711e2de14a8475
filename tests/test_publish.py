"""Publisher tests against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import pytest
from loopback import QuietHandler, in_thread
from qstash_demo.services import free_port

from qstash_receiver import ConfigError, QStashError, load_config
from qstash_receiver.config import Outgoing
from qstash_receiver.publish import AsyncPublisher, Publisher, PublishError
from qstash_receiver.secret import Secret
from qstash_receiver.testing import DEMO_ENV

TOKEN = "tok_publisher_test_5f1d2c9a7b3e"
DESTINATION = "https://example.com/api/qstash?x=1"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeQStash:
    """Answers every request with ``status``/``answer`` and records it."""

    url: str = ""
    status: int = 201
    answer: bytes = b'{"messageId": "msg_fake_1"}'
    requests: list[Recorded] = field(default_factory=list)


@pytest.fixture
def qstash() -> Iterator[FakeQStash]:
    fake = FakeQStash()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            headers, body = self.read_request()
            fake.requests.append(Recorded("POST", self.path, headers, body))
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(fake.answer)))
            self.end_headers()
            self.wfile.write(fake.answer)

    with in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        fake.url = url
        yield fake


def outgoing(url: str) -> Outgoing:
    return load_config({"QSTASH_URL": url + "/", "QSTASH_TOKEN": TOKEN}).outgoing


def test_publish_json_sends_path_token_and_body(qstash: FakeQStash) -> None:
    with Publisher(outgoing(qstash.url)) as publisher:
        message_id = publisher.publish_json(DESTINATION, {"hello": "world"})
    assert message_id == "msg_fake_1"
    [request] = qstash.requests
    assert request.path == f"/v2/publish/{DESTINATION}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"hello": "world"}


def test_every_publish_option_becomes_its_header(qstash: FakeQStash) -> None:
    with Publisher(outgoing(qstash.url)) as publisher:
        publisher.publish(
            DESTINATION,
            b"\x00\xffraw",
            content_type="application/octet-stream",
            method="PUT",
            headers={"X-Trace": "abc", "Upstash-Forward-Already": "kept"},
            delay=30,
            retries=2,
            deduplication_id="dedup-1",
            content_based_deduplication=True,
            callback="https://example.com/callback",
        )
        publisher.publish(DESTINATION, "text body", delay="2m", content_based_deduplication=False)
    first, second = qstash.requests
    assert first.body == b"\x00\xffraw"
    assert {k: v for k, v in first.headers.items() if k.startswith("upstash-")} == {
        "upstash-method": "PUT",
        "upstash-forward-x-trace": "abc",
        "upstash-forward-already": "kept",
        "upstash-delay": "30s",
        "upstash-retries": "2",
        "upstash-deduplication-id": "dedup-1",
        "upstash-content-based-deduplication": "true",
        "upstash-callback": "https://example.com/callback",
    }
    assert first.headers["content-type"] == "application/octet-stream"
    assert second.body == b"text body"
    assert second.headers["upstash-delay"] == "2m"
    assert second.headers["upstash-content-based-deduplication"] == "false"
    assert "upstash-method" not in second.headers


def test_migration_mode_publishes_through_the_primary_region(qstash: FakeQStash) -> None:
    env = {**DEMO_ENV, "QSTASH_REGION": "EU_CENTRAL_1", "EU_CENTRAL_1_QSTASH_URL": qstash.url}
    with Publisher(load_config(env).outgoing) as publisher:
        publisher.publish_json(DESTINATION, [1, 2])
    assert qstash.requests[0].headers["authorization"] == (
        f"Bearer {DEMO_ENV['EU_CENTRAL_1_QSTASH_TOKEN']}"
    )


def test_refusal_raises_publish_error_with_status_and_text(qstash: FakeQStash) -> None:
    qstash.status, qstash.answer = 400, b'{"error": "invalid destination url"}'
    with Publisher(outgoing(qstash.url)) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish_json(DESTINATION, {})
    assert caught.value.status == 400
    assert caught.value.error == "invalid destination url"
    assert "HTTP 400" in str(caught.value)
    assert isinstance(caught.value, QStashError)


def test_error_text_never_carries_the_token(qstash: FakeQStash) -> None:
    qstash.status, qstash.answer = 401, f"bad token Bearer {TOKEN}".encode()
    with Publisher(outgoing(qstash.url)) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish(DESTINATION, b"x")
    assert caught.value.status == 401
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert TOKEN not in repr(publisher)


def _token_fragments(text: str, size: int = 6) -> list[str]:
    folded = text.lower()
    token = TOKEN.lower()
    windows = (token[i : i + size] for i in range(len(token) - size + 1))
    return [window for window in windows if window in folded]


@pytest.mark.parametrize(
    "echo",
    [
        TOKEN[:12],
        TOKEN[7:29],
        TOKEN.lower(),
        TOKEN.upper(),
        TOKEN.swapcase(),
        " ".join(TOKEN[i : i + 10] for i in range(0, len(TOKEN), 10)),
        f"Authorization: Bearer {TOKEN}"[:40],
        "x" * 280 + TOKEN,  # cut by the length bound in the middle of the token
    ],
    ids=["prefix", "middle", "lower", "upper", "swapcase", "in-pieces", "cut-header", "at-the-cut"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json-error"])
def test_no_part_of_the_token_reaches_the_error(
    qstash: FakeQStash, echo: str, as_json: bool
) -> None:
    # Issue 13, defect 7: only an exact echo of the token was redacted.
    answer = json.dumps({"error": f"bad token {echo}"}) if as_json else f"bad token {echo}"
    qstash.status, qstash.answer = 401, answer.encode()
    with Publisher(outgoing(qstash.url)) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish(DESTINATION, b"x")
    assert _token_fragments(caught.value.error) == [], caught.value.error
    assert str(caught.value) == f"QStash publish failed (HTTP 401): {caught.value.error}"
    assert repr(caught.value) == f"PublishError({str(caught.value)!r})"
    assert caught.value.error.startswith("bad token ")  # the rest of the text is kept
    assert "[token]" in caught.value.error
    assert len(caught.value.error) <= 300


def test_error_text_without_the_token_is_kept_whole(qstash: FakeQStash) -> None:
    text = "destination https://example.com/api/qstash?x=1 is not reachable: status 404"
    qstash.status, qstash.answer = 400, json.dumps({"error": text}).encode()
    with Publisher(outgoing(qstash.url)) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish(DESTINATION, b"x")
    assert caught.value.error == text


def test_success_without_message_id_is_an_error(qstash: FakeQStash) -> None:
    qstash.answer = b"{}"
    with Publisher(outgoing(qstash.url)) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish(DESTINATION)
    assert caught.value.status == 201


def test_token_is_never_logged(qstash: FakeQStash, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore
    with Publisher(outgoing(qstash.url)) as publisher:
        publisher.publish_json(DESTINATION, {"a": 1})
        qstash.status = 500
        with pytest.raises(PublishError):
            publisher.publish_json(DESTINATION, {"a": 1})
    assert any("msg_fake_1" in record.getMessage() for record in caplog.records)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert TOKEN not in caplog.text


def test_unreachable_qstash_is_a_publish_error_without_status() -> None:
    unreachable = outgoing(f"http://127.0.0.1:{free_port()}")
    with Publisher(unreachable, timeout=2) as publisher, pytest.raises(PublishError) as caught:
        publisher.publish(DESTINATION)
    assert caught.value.status is None
    assert "could not reach" in str(caught.value)
    assert "ConnectError" in str(caught.value)
    # Not chained: httpx's error keeps the request, and with it the Authorization header.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_bad_arguments_are_refused_before_sending(qstash: FakeQStash) -> None:
    with Publisher(outgoing(qstash.url)) as publisher:
        with pytest.raises(ValueError, match="absolute http"):
            publisher.publish("not-a-url")
        with pytest.raises(ValueError, match="method"):
            publisher.publish(DESTINATION, method="TRACE")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="unknown publish options"):
            publisher.publish(DESTINATION, retry=3)  # type: ignore[call-arg]
    assert qstash.requests == []


def test_missing_token_is_a_config_error() -> None:
    no_token = Outgoing("https://qstash.upstash.io", None, "default")
    with Publisher(no_token) as publisher, pytest.raises(ConfigError, match="QSTASH_TOKEN"):
        publisher.publish(DESTINATION)


def test_async_publisher(qstash: FakeQStash, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token_outgoing = Outgoing(qstash.url, Secret(TOKEN), "explicit")

    async def scenario() -> tuple[str, PublishError]:
        async with AsyncPublisher(token_outgoing) as publisher:
            message_id = await publisher.publish_json(DESTINATION, {"n": 1}, retries=0)
            qstash.status, qstash.answer = 429, b'{"error": "too many requests"}'
            try:
                await publisher.publish(DESTINATION, b"x")
            except PublishError as err:
                return message_id, err
        raise AssertionError("no PublishError")

    message_id, error = asyncio.run(scenario())
    assert message_id == "msg_fake_1"
    assert (error.status, error.error) == (429, "too many requests")
    first = qstash.requests[0]
    assert first.headers["upstash-retries"] == "0"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("module", ["qstash_receiver", "qstash_receiver.cli"])
def test_receiving_side_does_not_import_httpx(module: str) -> None:
    code = f"import sys, {module}; print('httpx' in sys.modules, 'asyncio' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]
