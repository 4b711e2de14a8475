"""The stand-in behaves as QStash does for at-least-once receiving (real servers on loopback).

Non-retryable answers and dead letters, Retry-After, duplicate deliveries on request, and
signed callbacks and failure callbacks whose bodies follow Upstash's documented format
(https://upstash.com/docs/qstash/features/callbacks).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from destination import Answer, Delivery, Destination, destination
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.cli.dev.answers import parse_retry_after
from qstash_receiver.cli.dev.server import DELIVER_TWICE, DevServer
from qstash_receiver.publish import qstash_client
from qstash_receiver.testing import DEMO_ENV

TOKEN = DEMO_ENV["US_EAST_1_QSTASH_TOKEN"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECEIVER = Receiver(config=load_config(DEMO_ENV))
NON_RETRYABLE = Answer(489, {"Upstash-NonRetryable-Error": "true"}, b'{"error": "bad input"}')


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as state:
        yield state


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


def publish(dev: DevServer, url: str, body: bytes = b'{"n": 1}', /, **headers: str) -> str:
    """Publish through the US_EAST_1 region with raw publish headers; the message id."""
    answer = httpx.post(
        f"{dev.url('US_EAST_1')}/v2/publish/{url}",
        content=body,
        headers={**AUTH, **headers},
    )
    assert answer.status_code == 201, answer.text
    message_id: str = answer.json()["messageId"]
    return message_id


def verified(delivery: Delivery, url: str) -> VerifiedMessage:
    result = check_request(RECEIVER, delivery.headers, delivery.body, url=url)
    assert isinstance(result, VerifiedMessage), result
    return result


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_non_retryable_answer_is_dead_lettered_at_once(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", NON_RETRYABLE)
    message_id = publish(dev, target.url(), **{"Upstash-Retries": "3"})
    final = dev.wait_for(message_id)
    assert (final.final, final.status, final.retried, len(target.at("/hook"))) == (True, 489, 0, 1)
    assert final.dlq_id is not None
    [dead] = dev.dead_letters
    assert (dead.dlq_id, dead.message.message_id, dead.retried) == (final.dlq_id, message_id, 0)
    listed = httpx.get(f"{dev.url('US_EAST_1')}/v2/dlq", headers=AUTH)
    [entry] = listed.json()["messages"]
    assert (entry["dlqId"], entry["messageId"]) == (final.dlq_id, message_id)
    assert entry["url"] == target.url()
    assert (entry["responseStatus"], entry["responseBody"]) == (489, '{"error": "bad input"}')
    assert (entry["maxRetries"], entry["body"], entry["method"]) == (3, '{"n": 1}', "POST")
    # Each region has its own dead letter queue.
    eu_token = DEMO_ENV["EU_CENTRAL_1_QSTASH_TOKEN"]
    eu_auth = {"Authorization": f"Bearer {eu_token}"}
    eu = httpx.get(f"{dev.url('EU_CENTRAL_1')}/v2/dlq", headers=eu_auth)
    assert eu.json() == {"messages": []}


def test_489_without_the_header_is_retried(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", Answer(489), Answer(200))
    final = dev.wait_for(publish(dev, target.url()))
    assert (final.ok, final.retried) == (True, 1)
    assert dev.dead_letters == []


def test_used_up_retries_dead_letter_the_message(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", Answer(500, body=b"down"))
    final = dev.wait_for(publish(dev, target.url(), **{"Upstash-Retries": "2"}))
    assert (final.final, final.retried, final.status) == (True, 2, 500)
    assert [a.retry_in is not None for a in dev.attempts] == [True, True, False]
    [dead] = dev.dead_letters
    assert (dead.dlq_id, dead.retried) == (final.dlq_id, 2)


def test_the_dlq_api_answers_the_python_sdk(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", NON_RETRYABLE)
    final = dev.wait_for(publish(dev, target.url(), b"\xff\x00", **{"Upstash-Forward-X-Id": "7"}))
    client = qstash_client(config=load_config({}, url=dev.url("US_EAST_1"), token=TOKEN))
    try:
        [listed] = client.dlq.list().messages
        one = client.dlq.get(listed.dlq_id)
    finally:
        client.http._client.close()  # the SDK offers no close(); avoid a leaked socket
    assert (listed.dlq_id, listed.message_id, listed.response_status) == (
        final.dlq_id, final.message_id, 489,
    )  # fmt: skip
    assert listed.body_base64 == b64(b"\xff\x00")
    assert listed.headers == {"x-id": ["7"]}
    assert one.message_id == final.message_id


def test_dlq_api_needs_the_token_and_a_known_id(dev: DevServer) -> None:
    base = dev.url("US_EAST_1")
    assert httpx.get(f"{base}/v2/dlq").status_code == 401
    missing = httpx.get(f"{base}/v2/dlq/123-0", headers=AUTH)
    assert (missing.status_code, "not found" in missing.json()["error"]) == (404, True)
    assert httpx.get(f"{base}/v2/flowControl", headers=AUTH).status_code == 404


def test_retry_after_seconds_steers_the_next_attempt(target: Destination) -> None:
    target.answer("/hook", Answer(503, {"Retry-After": "1"}), Answer(200))
    with DevServer(backoff=30) as dev:  # the backoff alone would wait 30 s
        final = dev.wait_for(publish(dev, target.url()), timeout=20)
        first, second = dev.attempts
    assert (first.status, first.retry_in, final.ok, final.retried) == (503, 1.0, True, 1)
    arrivals = [d.at for d in target.at("/hook")]
    assert arrivals[1] - arrivals[0] >= 1.0
    assert second is final


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "3600"}, 0.5),  # cut to max_retry_after
        ({"Retry-After": "250ms"}, 0.25),
        ({"X-RateLimit-Reset": "100ms"}, 0.1),
        ({"Retry-After": "soon"}, 0.01),  # not a value QStash reads: the backoff
    ],
)
def test_retry_after_forms_and_the_cap(
    target: Destination, headers: dict[str, str], expected: float
) -> None:
    target.answer("/hook", Answer(429, headers), Answer(200))
    with DevServer(backoff=0.01, max_retry_after=0.5) as dev:
        dev.wait_for(publish(dev, target.url()))
        first = dev.attempts[0]
    assert first.retry_in == pytest.approx(expected)


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("10", now) == 10
    assert parse_retry_after("6m5s", now) == 365
    assert parse_retry_after("1h0m0.5s", now) == pytest.approx(3600.5)
    assert parse_retry_after("1500us", now) == pytest.approx(0.0015)
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 90))
    assert parse_retry_after(date, now) == pytest.approx(90)
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0  # in the past
    for value in ("", "soon", "-5", "1.5", "5 minutes", "10d"):
        assert parse_retry_after(value, now) is None


def test_a_message_is_delivered_twice_on_request(dev: DevServer, target: Destination) -> None:
    message_id = publish(dev, target.url(), **{DELIVER_TWICE: "true"})
    final = dev.wait_for(message_id)
    first, second = target.wait_for("/hook", 2)
    assert first.headers["upstash-message-id"] == second.headers["upstash-message-id"] == message_id
    assert first.body == second.body
    assert first.headers["upstash-signature"] != second.headers["upstash-signature"]  # fresh jti
    verified(first, target.url())
    verified(second, target.url())
    attempts = dev.attempts
    assert [(a.duplicate, a.final, a.ok) for a in attempts] == [
        (False, False, True), (True, True, True),
    ]  # fmt: skip
    assert final is attempts[1]
    assert DELIVER_TWICE.lower() not in first.headers  # the request stays the stand-in's


def test_duplicates_for_every_message_and_after_a_retry(target: Destination) -> None:
    target.answer("/hook", Answer(500), Answer(200))
    with DevServer(backoff=0.01, deliver_twice=True) as dev:
        dev.wait_for(publish(dev, target.url()))
        attempts = dev.attempts
    assert [(a.status, a.retried, a.duplicate) for a in attempts] == [
        (500, 0, False), (200, 1, False), (200, 1, True),
    ]  # fmt: skip


def test_an_invalid_deliver_twice_value_is_refused(dev: DevServer, target: Destination) -> None:
    answer = httpx.post(
        f"{dev.url('US_EAST_1')}/v2/publish/{target.url()}",
        headers={"Authorization": f"Bearer {TOKEN}", DELIVER_TWICE: "yes"},
    )
    assert answer.status_code == 400
    assert DELIVER_TWICE in answer.json()["error"]


def callback_json(delivery: Delivery, url: str) -> dict[str, Any]:
    message = verified(delivery, url)  # a signed delivery like any other, sub = callback URL
    assert delivery.headers["content-type"] == "application/json"
    payload: dict[str, Any] = message.json()
    return payload


def test_callback_reports_every_answered_attempt(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", Answer(500, {"X-Why": "busy"}, b"later"), Answer(201, body=b"done"))
    headers = {
        "Upstash-Retries": "1",
        "Upstash-Method": "PUT",
        "Content-Type": "application/json",
        "Upstash-Forward-X-Trace": "t-1",
        "Upstash-Callback": target.url("/callback"),
        "Upstash-Callback-Forward-X-Callback-Token": "c-1",
    }
    published = time.time()
    message_id = publish(dev, target.url(), b'{"order": 7}', **headers)
    final = dev.wait_for(message_id)
    callback_url = target.url("/callback")
    first, second = sorted(
        target.wait_for("/callback", 2), key=lambda d: callback_json(d, callback_url)["retried"]
    )
    for delivery, retried, status, body in ((first, 0, 500, b"later"), (second, 1, 201, b"done")):
        payload = callback_json(delivery, target.url("/callback"))
        assert payload["status"] == status
        assert base64.b64decode(payload["body"]) == body
        assert (payload["retried"], payload["maxRetries"]) == (retried, 1)
        assert payload["sourceMessageId"] == message_id
        assert (payload["url"], payload["method"]) == (target.url(), "PUT")
        assert base64.b64decode(payload["sourceBody"]) == b'{"order": 7}'
        assert payload["sourceHeader"] == {"x-trace": "t-1", "Content-Type": "application/json"}
        assert isinstance(payload["createdAt"], str)
        assert abs(int(payload["createdAt"]) / 1000 - published) < 60
        assert payload["notBefore"] == payload["createdAt"]  # no delay
        assert payload["callerIP"] == "127.0.0.1"
        assert "dlqId" not in payload
        assert delivery.headers["x-callback-token"] == "c-1"
        assert delivery.headers["upstash-message-id"] != message_id  # a message of its own
    assert callback_json(first, target.url("/callback"))["header"]["X-Why"] == ["busy"]
    assert final.callback_id == second.headers["upstash-message-id"]


def test_failure_callback_reports_the_dead_letter(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", NON_RETRYABLE)
    headers = {
        "Upstash-Delay": "100ms",
        "Upstash-Failure-Callback": target.url("/failed"),
        "Upstash-Failure-Callback-Forward-X-Alert": "pager",
    }
    message_id = publish(dev, target.url(), b"payload", **headers)
    final = dev.wait_for(message_id)
    assert final.failure_callback_id is not None
    dev.wait_for(final.failure_callback_id)
    [delivery] = target.at("/failed")
    assert delivery.headers["upstash-message-id"] == final.failure_callback_id
    assert delivery.headers["x-alert"] == "pager"
    payload = callback_json(delivery, target.url("/failed"))
    assert (payload["status"], payload["dlqId"], payload["sourceMessageId"]) == (
        489, final.dlq_id, message_id,
    )  # fmt: skip
    assert base64.b64decode(payload["body"]) == NON_RETRYABLE.body
    assert payload["header"]["Upstash-NonRetryable-Error"] == ["true"]
    assert (payload["retried"], payload["maxRetries"]) == (0, 3)
    assert int(payload["notBefore"]) - int(payload["createdAt"]) == 100
    assert base64.b64decode(payload["sourceBody"]) == b"payload"


def test_no_failure_callback_after_a_success(dev: DevServer, target: Destination) -> None:
    headers = {"Upstash-Failure-Callback": target.url("/failed")}
    final = dev.wait_for(publish(dev, target.url(), **headers))
    assert (final.ok, final.failure_callback_id) == (True, None)
    assert target.at("/failed") == []


def test_an_unreachable_destination_reports_status_0(dev: DevServer, target: Destination) -> None:
    from qstash_demo.services import free_port

    headers = {"Upstash-Retries": "0", "Upstash-Failure-Callback": target.url("/failed")}
    final = dev.wait_for(publish(dev, f"http://127.0.0.1:{free_port()}/gone", **headers))
    assert (final.status, final.dlq_id is not None, final.callback_id) == (None, True, None)
    [delivery] = target.wait_for("/failed", 1)
    payload = callback_json(delivery, target.url("/failed"))
    assert (payload["status"], payload["header"], payload["body"]) == (0, {}, "")


def test_callback_settings_retries_and_method(dev: DevServer, target: Destination) -> None:
    target.answer("/callback", Answer(500), Answer(200))
    headers = {
        "Upstash-Callback": target.url("/callback"),
        "Upstash-Callback-Retries": "1",
        "Upstash-Callback-Method": "PATCH",
    }
    final = dev.wait_for(publish(dev, target.url(), **headers))
    assert final.callback_id is not None
    callback_final = dev.wait_for(final.callback_id)
    assert (callback_final.ok, callback_final.retried, callback_final.kind) == (True, 1, "callback")
    assert [d.method for d in target.at("/callback")] == ["PATCH", "PATCH"]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"Upstash-Callback": "ftp://x.test"}, "invalid Upstash-Callback"),
        ({"Upstash-Failure-Callback": "nowhere"}, "invalid Upstash-Failure-Callback"),
        ({"Upstash-Callback": "https://x.test", "Upstash-Callback-Retries": "-1"}, "negative"),
        ({"Upstash-Callback": "https://x.test", "Upstash-Callback-Method": "TRACE"}, "Method"),
    ],
)
def test_bad_callback_settings_are_refused(
    dev: DevServer, headers: dict[str, str], error: str
) -> None:
    answer = httpx.post(
        f"{dev.url('US_EAST_1')}/v2/publish/https://x.test/hook",
        headers={"Authorization": f"Bearer {TOKEN}", **headers},
    )
    assert answer.status_code == 400
    assert error in answer.json()["error"]


def test_python_sdk_failure_callback_end_to_end(dev: DevServer, target: Destination) -> None:
    target.answer("/hook", NON_RETRYABLE)
    client = qstash_client(config=load_config({}, url=dev.url("US_EAST_1"), token=TOKEN))
    try:
        response = client.message.publish_json(
            url=target.url(), body={"sdk": True}, failure_callback=target.url("/failed"), retries=2
        )
    finally:
        client.http._client.close()
    final = dev.wait_for(response.message_id)  # type: ignore[union-attr]
    [delivery] = target.wait_for("/failed", 1)
    payload = callback_json(delivery, target.url("/failed"))
    assert (payload["dlqId"], payload["maxRetries"]) == (final.dlq_id, 2)
    assert json.loads(base64.b64decode(payload["sourceBody"])) == {"sdk": True}
