"""The Django adapter through Django's test clients (CSRF enforced), for every view kind."""

from __future__ import annotations

import inspect
import io
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import django_test_urls as urls
import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

from qstash_receiver import ConfigError, QStashError, SignatureError, VerifiedMessage
from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash
from qstash_receiver.adapters.django.settings import qstash_environ
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
BODY = b'{"event": "order.created", "order_id": 4217}'
ALL_KEYS = (EU_CURRENT, EU_NEXT, US_CURRENT, US_NEXT)

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # what mypy (python_version 3.10) reads
    from typing_extensions import assert_type

kinds = pytest.mark.parametrize("kind", urls.KINDS)


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.content)


def deliver(
    kind: str,
    variant: str,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    content_type: str = "application/json",
) -> Answer:
    """Send one request through Client (sync views) or AsyncClient (async views)."""
    path = f"/{kind}/{variant}/"
    if kind.startswith("async"):

        async def send() -> Any:
            client = AsyncClient(enforce_csrf_checks=True)
            return await client.generic(method, path, body, content_type, headers=headers)

        response = async_to_sync(send)()
    else:
        response = Client(enforce_csrf_checks=True).generic(
            method, path, body, content_type, headers=headers
        )
    return Answer(response.status_code, response.content, response["Content-Type"])


def assert_rejected(answer: Answer, status: int, reason: str) -> None:
    phrase = {401: "Unauthorized", 413: TOO_LARGE, 500: "Internal Server Error"}
    assert (answer.status, answer.content) == (
        status,
        f"{status} {phrase[status]}: {reason}".encode(),
    )
    assert answer.content_type == "text/plain; charset=utf-8"
    assert urls.RAN == []
    assert not any(key.encode() in answer.content for key in ALL_KEYS)


@pytest.fixture(autouse=True)
def _clear_ran() -> Iterator[None]:
    urls.RAN.clear()
    yield
    urls.RAN.clear()


@kinds
def test_genuine_deliveries_from_both_regions_reach_the_view(kind: str) -> None:
    eu = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1", message_id="msg_eu")
    us = signed_headers(BODY, key=US_NEXT, region="US_EAST_1", message_id="msg_us")
    eu_answer, us_answer = deliver(kind, "demo", BODY, eu), deliver(kind, "demo", BODY, us)
    assert (eu_answer.status, us_answer.status) == (200, 200)
    assert eu_answer.json() == {
        "message_id": "msg_eu",
        "key_region": "EU_CENTRAL_1",
        "key_used": "current",
        "method": "POST",
        "body_hex": BODY.hex(),
        "request_body_is_message_body": True,
    }
    assert (us_answer.json()["key_region"], us_answer.json()["key_used"]) == ("US_EAST_1", "next")
    assert [(f"/{kind}/demo/", "msg_eu"), (f"/{kind}/demo/", "msg_us")] == urls.RAN


def _without_signature() -> dict[str, str]:
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    del headers["Upstash-Signature"]
    return headers


def _with_signature(signature: str) -> dict[str, str]:
    return {
        **signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1"),
        "Upstash-Signature": signature,
    }


REJECTIONS: dict[str, tuple[str, Callable[[], dict[str, str]]]] = {
    "no signature": ("missing_signature", _without_signature),
    "forged key": (
        "invalid_signature",
        lambda: signed_headers(BODY, key=FORGED_KEY, region="EU_CENTRAL_1"),
    ),
    "EU key, US region header": (
        "invalid_signature",
        lambda: signed_headers(BODY, key=EU_CURRENT, region="US_EAST_1"),
    ),
    "other body signed": (
        "body_mismatch",
        lambda: signed_headers(b"{}", key=EU_CURRENT, region="EU_CENTRAL_1"),
    ),
    "expired": (
        "expired",
        lambda: signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1", now=time.time() - 400),
    ),
    "issued in the future": (
        "not_yet_valid",
        lambda: signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1", now=time.time() + 120),
    ),
    "wrong issuer": (
        "invalid_issuer",
        lambda: signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1", claims={"iss": "x"}),
    ),
    "not a JWT": ("malformed_signature", lambda: _with_signature("not-a-jwt")),
    "two signatures": (
        "duplicate_signature",
        lambda: _with_signature(f"{sign(BODY, key=EU_CURRENT)},{sign(BODY, key=EU_CURRENT)}"),
    ),
}


@kinds
@pytest.mark.parametrize("case", REJECTIONS)
def test_unverified_deliveries_get_401_and_never_reach_the_view(kind: str, case: str) -> None:
    reason, make_headers = REJECTIONS[case]
    assert_rejected(deliver(kind, "demo", BODY, make_headers()), 401, reason)


@kinds
def test_url_option_requires_the_signed_destination(kind: str) -> None:
    right = signed_headers(BODY, key=US_CURRENT, region="US_EAST_1", url=urls.EXPECTED_URL)
    assert deliver(kind, "url", BODY, right).status == 200
    urls.RAN.clear()
    wrong = signed_headers(BODY, key=US_CURRENT, region="US_EAST_1", url="https://evil.test/q")
    assert_rejected(deliver(kind, "url", BODY, wrong), 401, "url_mismatch")


@kinds
def test_clock_tolerance_option_accepts_small_skew_only(kind: str) -> None:
    # Issued 310 s ago with QStash's 300 s lifetime: expired 10 s ago.
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1", now=time.time() - 310)
    assert deliver(kind, "tolerant", BODY, headers).status == 200
    urls.RAN.clear()
    assert_rejected(deliver(kind, "demo", BODY, headers), 401, "expired")


@kinds
def test_body_over_max_body_bytes_gets_413(kind: str) -> None:
    body = b"x" * 65
    headers = signed_headers(body, key=EU_CURRENT, region="EU_CENTRAL_1")
    assert_rejected(deliver(kind, "small", body, headers), 413, "body_too_large")
    fits = body[:64]
    headers = signed_headers(fits, key=EU_CURRENT, region="EU_CENTRAL_1")
    assert deliver(kind, "small", fits, headers).status == 200


@kinds
def test_body_over_data_upload_max_memory_size_gets_413_not_400(kind: str) -> None:
    body = b"y" * 100
    headers = signed_headers(body, key=EU_CURRENT, region="EU_CENTRAL_1")
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=99):
        assert_rejected(deliver(kind, "demo", body, headers), 413, "body_too_large")
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        assert deliver(kind, "demo", body, headers).status == 200


@kinds
def test_no_signing_keys_gets_retryable_500(kind: str) -> None:
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    assert_rejected(deliver(kind, "nokeys", BODY, headers), 500, "configuration_error")


@kinds
def test_get_with_empty_body(kind: str) -> None:
    headers = signed_headers(b"", key=US_CURRENT, region="US_EAST_1")
    answer = deliver(kind, "demo", b"", headers, method="GET")
    assert answer.status == 200
    assert (answer.json()["method"], answer.json()["body_hex"]) == ("GET", "")


@kinds
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_qstash_may_use(kind: str, method: str) -> None:
    headers = signed_headers(BODY, key=US_CURRENT, region="US_EAST_1")
    answer = deliver(kind, "demo", BODY, headers, method=method)
    assert (answer.status, answer.json()["method"]) == (200, method)


@kinds
def test_binary_body_verifies_byte_for_byte(kind: str) -> None:
    body = bytes(range(256)) + b"\xff\xfe\x00\x80"  # not UTF-8
    headers = signed_headers(body, key=EU_NEXT, region="EU_CENTRAL_1")
    answer = deliver(kind, "demo", body, headers, content_type="application/octet-stream")
    assert answer.status == 200
    assert answer.json()["body_hex"] == body.hex()
    assert answer.json()["request_body_is_message_body"] is True


def test_the_client_enforces_csrf_so_exemption_is_what_lets_deliveries_in() -> None:
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    plain = Client(enforce_csrf_checks=True).post(
        "/plain/", BODY, "application/json", headers=headers
    )
    assert plain.status_code == 403
    for kind in urls.KINDS:
        assert deliver(kind, "demo", BODY, headers).status == 200


@kinds
def test_default_receiver_reads_qstash_settings(kind: str) -> None:
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    assert_rejected(deliver(kind, "settings", BODY, headers), 500, "configuration_error")
    with override_settings(QSTASH_CURRENT_SIGNING_KEY=EU_CURRENT, QSTASH_NEXT_SIGNING_KEY=EU_NEXT):
        assert deliver(kind, "settings", BODY, headers).status == 200
    migration = {name: value for name, value in DEMO_ENV.items() if "SIGNING_KEY" in name}
    with override_settings(QSTASH_REGION="US_EAST_1", **migration):
        us = signed_headers(BODY, key=US_CURRENT, region="US_EAST_1")
        assert deliver(kind, "settings", BODY, us).json()["key_region"] == "US_EAST_1"
        assert deliver(kind, "settings", BODY, headers).json()["key_region"] == "EU_CENTRAL_1"


@kinds
def test_invalid_settings_answer_500_instead_of_crashing(kind: str) -> None:
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    with override_settings(QSTASH_DEV="maybe"):
        assert_rejected(deliver(kind, "settings", BODY, headers), 500, "configuration_error")


def test_settings_win_over_the_environment_which_fills_the_rest() -> None:
    environ = {
        "QSTASH_CURRENT_SIGNING_KEY": "from-env-current",
        "QSTASH_NEXT_SIGNING_KEY": "from-env-next",
        "QSTASH_REGION": "EU_CENTRAL_1",
        "K_SERVICE": "hook",
    }
    with override_settings(QSTASH_CURRENT_SIGNING_KEY="from-settings", QSTASH_DEV=True):
        merged = qstash_environ(environ)
    assert merged["QSTASH_CURRENT_SIGNING_KEY"] == "from-settings"
    assert merged["QSTASH_DEV"] == "true"
    assert merged["K_SERVICE"] == "hook"  # not a QStash setting: always from the environment
    # conftest sets every QSTASH_* setting to "": blank settings mask the environment ...
    assert merged["QSTASH_NEXT_SIGNING_KEY"] == ""
    assert merged["QSTASH_REGION"] == ""
    # ... while a setting set to None falls back to it.
    with override_settings(QSTASH_NEXT_SIGNING_KEY=None, QSTASH_DEV=False):
        merged = qstash_environ(environ)
    assert (merged["QSTASH_NEXT_SIGNING_KEY"], merged["QSTASH_DEV"]) == ("from-env-next", "false")


def _rejected_request() -> HttpRequest:
    return RequestFactory().post("/x/", BODY, content_type="application/json")


async def _awaited(pending: Awaitable[HttpResponse]) -> HttpResponse:
    return await pending


def test_async_views_return_a_coroutine_on_rejection_too() -> None:
    for view in (
        urls.make_function_view(True, urls.VARIANTS["demo"]),
        urls.AsyncHook.as_view(qstash_receiver=urls.DEMO_RECEIVER),
    ):
        assert iscoroutinefunction(view)
        pending = view(_rejected_request())
        assert not isinstance(pending, HttpResponse)
        answer = async_to_sync(_awaited)(pending)
        assert answer.status_code == 401
    for view in (
        urls.make_function_view(False, urls.VARIANTS["demo"]),
        urls.SyncHook.as_view(qstash_receiver=urls.DEMO_RECEIVER),
    ):
        assert not iscoroutinefunction(view)
        assert view(_rejected_request()).status_code == 401


def test_message_accessors_refuse_unverified_requests() -> None:
    request = _rejected_request()
    with pytest.raises(LookupError):
        get_message(request)
    hook = QStashVerifiedMixin()
    hook.setup(request)
    with pytest.raises(LookupError):
        _ = hook.qstash_message


def test_errors_are_the_cores_so_one_except_works_everywhere() -> None:
    from qstash_receiver.adapters import django as adapter

    assert adapter.QStashError is QStashError
    assert adapter.SignatureError is SignatureError
    assert adapter.ConfigError is ConfigError
    assert adapter.VerifiedMessage is VerifiedMessage


class UnreadStream(io.BytesIO):
    """A request body stream that records every read (it should get none)."""

    def __init__(self) -> None:
        super().__init__(b"x" * 65)
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)

    def readline(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().readline(size)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("is_class", [False, True])
def test_declared_oversize_body_is_refused_unread(is_async: bool, is_class: bool) -> None:
    stream = UnreadStream()
    environ: dict[str, Any] = {"wsgi.input": stream, "CONTENT_LENGTH": "65"}
    request = RequestFactory().post("/x/", b"", content_type="application/json", **environ)
    view: Callable[..., Any]
    if is_class:
        view = (urls.AsyncHook if is_async else urls.SyncHook).as_view(qstash_max_body_bytes=64)
    else:
        view = urls.make_function_view(is_async, urls.VARIANTS["small"])
    result: Any = view(request)  # a coroutine for async views
    answer = async_to_sync(_awaited)(result) if is_async else result
    assert (answer.status_code, answer.content) == (
        413,
        f"413 {TOO_LARGE}: body_too_large".encode(),
    )
    assert stream.reads == 0


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("is_class", [False, True])
@pytest.mark.parametrize("length", ["abc", "7,7", "1e3"])
def test_malformed_content_length_is_a_401_not_a_crash(
    is_async: bool, is_class: bool, length: str
) -> None:
    # gunicorn and uvicorn refuse such a request themselves; runserver passes it on, and
    # Django's request.body then raises ValueError.
    headers = signed_headers(BODY, key=EU_CURRENT, region="EU_CENTRAL_1")
    request = RequestFactory().post(
        "/x/", BODY, content_type="application/json", headers=headers, CONTENT_LENGTH=length
    )
    view: Callable[..., Any]
    if is_class:
        hook = urls.AsyncHook if is_async else urls.SyncHook
        view = hook.as_view(qstash_receiver=urls.DEMO_RECEIVER)
    else:
        view = urls.make_function_view(is_async, urls.VARIANTS["demo"])
    result: Any = view(request)
    answer = async_to_sync(_awaited)(result) if is_async else result
    assert (answer.status_code, answer.content) == (401, b"401 Unauthorized: malformed_body")
    assert urls.RAN == []


def test_decorator_keeps_the_view_and_its_type() -> None:
    def plain(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    view: Callable[[HttpRequest], HttpResponse] = plain
    bare = verify_qstash(view)
    configured = verify_qstash(url=urls.EXPECTED_URL, receiver=urls.DEMO_RECEIVER)(view)
    assert_type(bare, Callable[[HttpRequest], HttpResponse])
    assert_type(configured, Callable[[HttpRequest], HttpResponse])
    for wrapped in (bare, configured):
        assert wrapped is not view
        assert wrapped.__name__ == "plain"
        assert inspect.unwrap(wrapped) is plain  # csrf_exempt's layer, then ours
        assert wrapped.csrf_exempt is True  # type: ignore[attr-defined]


def test_bad_options_are_refused_when_decorating_or_building_the_view() -> None:
    from django.views import View

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    class Hook(QStashVerifiedMixin, View):
        def post(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse("ok")

    with pytest.raises(ValueError, match="clock_tolerance"):
        verify_qstash(clock_tolerance=float("nan"))(view)
    with pytest.raises(ValueError, match="max_body_bytes"):
        verify_qstash(max_body_bytes=-1)(view)
    with pytest.raises(ValueError, match="clock_tolerance"):
        Hook.as_view(qstash_clock_tolerance=-3)
    Hook.as_view()  # the defaults are fine
