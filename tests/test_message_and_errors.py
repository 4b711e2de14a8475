"""The verified message is immutable; errors carry their answer; odd input never raises."""

from __future__ import annotations

import copy
import dataclasses
import logging
import pickle
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

import pytest
from verdicts import check_request

import qstash_receiver
from qstash_receiver import (
    CallbackError,
    ConfigError,
    ExpiredError,
    InvalidClaimsError,
    MalformedBodyError,
    NonRetryableError,
    NotYetValidError,
    PayloadTooLargeError,
    QStashError,
    Receiver,
    RetryLater,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.integration import Answer, answer_for
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

URL = "https://example.com/api/qstash"
BODY = b'{"shape":1}'
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
RECEIVER = Receiver(config=load_config(DEMO_ENV))


def genuine() -> VerifiedMessage:
    headers = signed_headers(BODY, key=US_CURRENT, url=URL, region="US_EAST_1")
    result = check_request(RECEIVER, {**headers, "X-Trace": "t"}, BODY, url=URL)
    assert isinstance(result, VerifiedMessage)
    return result


@pytest.mark.parametrize(
    ("name", "value"),
    [("body", b""), ("message_id", "other"), ("retried", 3), ("headers", {}), ("new", 1)],
)
def test_setting_an_attribute_of_a_verified_message_raises(name: str, value: Any) -> None:
    message = genuine()
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        setattr(message, name, value)


def test_headers_and_claims_of_a_verified_message_cannot_be_changed() -> None:
    message = genuine()
    assert message.headers["x-trace"] == "t"
    with pytest.raises(TypeError):
        message.headers["x-trace"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        message.claims["sub"] = "https://elsewhere.test"  # type: ignore[index]
    assert not hasattr(message.headers, "__setitem__")
    assert message.url == URL
    assert message.forwarded_headers == {"x-trace": "t"}


def test_deleting_an_attribute_of_a_verified_message_raises() -> None:
    message = genuine()
    with pytest.raises(AttributeError):
        del message.message_id
    assert message.message_id is not None


def test_a_message_built_by_hand_keeps_its_claims_read_only() -> None:
    message = VerifiedMessage(b"x", {"sub": URL}, "explicit", None, "current", message_id="m-1")
    with pytest.raises(TypeError):
        message.claims["sub"] = "again"  # type: ignore[index]
    assert message.url == URL
    assert (message.message_id, message.retried, dict(message.headers)) == ("m-1", None, {})
    assert type(message) is VerifiedMessage
    other = VerifiedMessage(b"x", {"sub": URL}, "explicit", None, "current")
    assert message != other  # identity, as for any delivery
    proxied = VerifiedMessage(b"x", MappingProxyType({"sub": URL}), "explicit", None, "current")
    assert dict(proxied.claims) == {"sub": URL}
    with pytest.raises(TypeError):
        VerifiedMessage(b"x", None, "explicit", None, "current")  # type: ignore[arg-type]


class TenantMessage(VerifiedMessage):
    """A subclass with a field of its own and its own constructor."""

    __slots__ = ("tenant",)

    def __init__(self, tenant: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant


def test_copies_and_pickles_of_a_subclass_keep_its_fields_in_place() -> None:
    message = TenantMessage("acme", b"body", {"sub": URL}, "explicit", None, "current")
    pickled = pickle.loads(pickle.dumps(message))  # noqa: S301 (bytes this test made)
    for twin in (copy.copy(message), copy.deepcopy(message), pickled):
        assert type(twin) is TenantMessage
        assert (twin.tenant, twin.body, dict(twin.claims)) == ("acme", b"body", {"sub": URL})
        assert (twin.key_source, twin.key_region, twin.key_used) == ("explicit", None, "current")


def test_copies_and_pickles_of_a_verified_message_keep_every_field() -> None:
    message = genuine()
    pickled = pickle.loads(pickle.dumps(message))  # noqa: S301 (bytes this test made)
    for twin in (copy.copy(message), copy.deepcopy(message), pickled):
        assert type(twin) is VerifiedMessage
        for name in VerifiedMessage.__match_args__:
            if name in ("claims", "headers"):
                assert dict(getattr(twin, name)) == dict(getattr(message, name))
            else:
                assert getattr(twin, name) == getattr(message, name), name
        with pytest.raises(TypeError):
            twin.claims["sub"] = "x"  # type: ignore[index]
        with pytest.raises(AttributeError):
            twin.body = b""  # type: ignore[misc]


def test_verify_and_check_request_build_the_same_verification() -> None:
    headers = signed_headers(BODY, key=US_CURRENT, url=URL, region="US_EAST_1")
    bare = RECEIVER.verify(
        signature=headers["Upstash-Signature"], body=BODY, upstash_region="US-EAST-1"
    )
    full = check_request(RECEIVER, headers, BODY)
    assert isinstance(full, VerifiedMessage)
    fields = ("body", "key_source", "key_region", "key_used", "upstash_region")
    assert [getattr(bare, f) for f in fields] == [getattr(full, f) for f in fields]
    assert dict(bare.claims) == dict(full.claims)
    assert bare.message_id is None
    assert full.message_id == headers["Upstash-Message-Id"]
    assert full.retried == 0


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (SignatureError(), 401, "signature_error"),
        (ExpiredError(), 401, "expired"),
        (PayloadTooLargeError(10), 413, "body_too_large"),
        (ConfigError("x"), 500, "configuration_error"),
        (NonRetryableError("bad payload"), 489, "non_retryable"),
        (RetryLater(30), 503, "retry_later"),
        (QStashError(), 500, "internal_error"),
    ],
)
def test_each_error_carries_its_status_and_reason(
    error: QStashError, status: int, reason: str
) -> None:
    assert (error.status_code, error.reason) == (status, reason)
    rejection = answer_for(error)
    assert (rejection.status, rejection.reason) == (status, reason)


def test_phrases_come_from_http_status_and_489_has_none() -> None:
    assert Answer(401, "expired").text == f"401 {HTTPStatus(401).phrase}: expired"
    assert Answer(503, "retry_later").text.startswith("503 Service Unavailable")
    assert Answer(489, "non_retryable").text == "489 Error: non_retryable"


def test_a_non_retryable_answer_carries_the_handlers_text() -> None:
    assert answer_for(NonRetryableError("gone")).text == "489 Error: non_retryable: gone"
    assert answer_for(NonRetryableError()).text == "489 Error: non_retryable"
    assert answer_for(NonRetryableError("  \n\x00 ")).text == "489 Error: non_retryable"
    refused = answer_for(CallbackError("not a QStash callback: the 'status' field is missing"))
    assert refused.text == (
        "489 Error: not_a_callback: not a QStash callback: the 'status' field is missing"
    )


@pytest.mark.parametrize(
    ("message", "sent"),
    [
        ("line one\r\nline two\ttabbed", "line one line two tabbed"),
        ("\x1b[31mred\x1b[0m \x07bell \x7fdel \x85nel", "[31mred[0m bell del nel"),
        ("invoice\u202egpj.exe \u200bzero-width \u2028sep", "invoicegpj.exe zero-width sep"),
        ("lone \ud800 surrogate \ue000 private \U000e0001 tag", "lone surrogate private tag"),
        ("Zoë ✓ 🚀 注文", "Zoë ✓ 🚀 注文"),
        ("é" * 200, "é" * 200),
        ("é" * 201, "é" * 199 + "\u2026"),
        (" x " * 150, " ".join("x" * 150)[:199] + "\u2026"),
    ],
)
def test_the_handlers_text_is_sent_as_one_line_of_at_most_200_characters(
    message: str, sent: str
) -> None:
    error = NonRetryableError(message)
    assert error.response_detail == sent
    assert len(error.response_detail) <= 200
    rejection = answer_for(error)
    assert rejection.text == f"489 Error: non_retryable: {sent}"
    rejection.text.encode("utf-8")  # what every adapter sends: always encodable
    assert str(error) == message  # the exception itself (and its log line) is unchanged


def test_a_message_whose_str_fails_is_answered_without_text() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert answer_for(NonRetryableError(Broken())).text == "489 Error: non_retryable"


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("QSTASH_CURRENT_SIGNING_KEY is not set"),
        PayloadTooLargeError(10),
        InvalidClaimsError("exp"),
        RetryLater(30),
        QStashError("internal detail"),
    ],
)
def test_no_other_error_sends_its_message(error: QStashError) -> None:
    assert error.response_detail == ""
    assert answer_for(error).text.endswith(f": {error.reason}")
    assert str(error) not in answer_for(error).text


def test_retry_control_answers_carry_their_headers() -> None:
    non_retryable = answer_for(NonRetryableError("gone"))
    assert non_retryable.headers["Upstash-NonRetryable-Error"] == "true"
    later = answer_for(RetryLater(2.2))
    assert later.headers["Retry-After"] == "3"
    assert later.headers["Content-Type"].startswith("text/plain")
    assert RetryLater(10**9).delay == RetryLater.MAX_DELAY
    for bad in (-1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="finite delay"):
            RetryLater(bad)


def test_claim_errors_name_their_claim() -> None:
    now = 1_700_000_000
    expired = sign(BODY, key=US_CURRENT, url=URL, now=now - 3600)
    with pytest.raises(ExpiredError) as caught:
        RECEIVER.verify(signature=expired, body=BODY, upstash_region="US-EAST-1")
    assert caught.value.claim == "exp"
    future = sign(BODY, key=US_CURRENT, url=URL, now=now + 10**8)
    with pytest.raises(NotYetValidError) as early:
        RECEIVER.verify(signature=future, body=BODY, upstash_region="US-EAST-1")
    assert early.value.claim in ("nbf", "iat")
    assert InvalidClaimsError("jti").claim == "jti"
    assert "jti" in str(InvalidClaimsError("jti"))


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param({"Upstash-Signature": "a.b.c"}, "\ud800", id="lone-surrogate-body"),
        pytest.param({"Upstash-Signature": "a.b.c"}, None, id="none-body"),
        pytest.param({"Upstash-Signature": "a.b.c"}, 12, id="int-body"),
        pytest.param({"Upstash-Signature": None}, b"", id="none-signature-value"),
        pytest.param({"X-A": None, "Upstash-Signature": "a.b.c"}, b"", id="none-header"),
        pytest.param({7: "x", "Upstash-Signature": "a.b.c"}, b"", id="int-header-name"),
        pytest.param({None: "x"}, b"", id="none-header-name"),
        pytest.param({"X-A": [], "Upstash-Signature": [None]}, b"", id="empty-and-none-lists"),
        pytest.param([("X", "1"), ("only-one",)], b"", id="short-pair"),
        pytest.param(42, b"", id="headers-not-a-mapping"),
        pytest.param(None, b"", id="no-headers"),
    ],
)
def test_check_request_never_raises_for_bad_input(headers: Any, body: Any) -> None:
    explicit = Receiver(*DEMO_KEYS["US_EAST_1"])
    result = check_request(explicit, headers, body)
    assert isinstance(result, Answer)
    assert result.status == 401


def test_genuine_delivery_with_odd_extra_headers_is_accepted() -> None:
    headers: dict[Any, Any] = dict(signed_headers(BODY, key=US_CURRENT, region="US_EAST_1"))
    headers.update({"X-Empty": [], "X-None": [None], "X-Mixed": ["a", None], 5: "x"})
    result = check_request(RECEIVER, headers, BODY)
    assert isinstance(result, VerifiedMessage)
    assert result.headers["x-mixed"] == "a"
    assert "x-empty" not in result.headers
    assert "x-none" not in result.headers
    assert dict(result.headers)  # iterating never meets a name without a value


def test_verify_refuses_an_unencodable_str_body_as_a_signature_error() -> None:
    token = sign(BODY, key=US_CURRENT)
    with pytest.raises(MalformedBodyError):
        RECEIVER.verify(signature=token, body="\udc80", upstash_region="US-EAST-1")


def test_root_exports_the_product_names_only() -> None:
    exported = set(qstash_receiver.__all__)
    assert {"Receiver", "VerifiedMessage", "load_config", "QStashConfig", "__version__"} <= exported
    assert {"NonRetryableError", "RetryLater", "ConfigError", "SignatureError"} <= exported
    plumbing = {"check_request", "Answer", "Headers", "check_options", "SigningKeys"}
    assert not exported & plumbing
    for name in exported - {"__version__"}:
        value = getattr(qstash_receiver, name)
        assert isinstance(value, type) or callable(value)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, QStashError)


def test_a_handlers_refusal_forges_no_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """The handler's own text never reaches a log line raw: no forged lines."""
    from qstash_receiver.integration import Endpoint, Options, Responder

    def handler() -> int:
        raise NonRetryableError("order 17 gone\nERROR forged line\x1b[31m")

    endpoint = Endpoint(Options(), RECEIVER)
    message = genuine()
    with caplog.at_level(logging.DEBUG):
        answer = endpoint.run(message, handler, Responder(lambda a: a.text, lambda _: 200))
    assert answer == "489 Error: non_retryable: order 17 gone ERROR forged line[31m"
    for record in caplog.records:
        text = record.getMessage()
        assert "\n" not in text
        assert "\x1b" not in text
