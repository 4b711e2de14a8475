"""The Cloud Functions adapter in-process: the functions of ``test_gcf_functions.py`` served by
functions-framework's own app (``create_app``), driven with Flask's test client; and
``PublicUrl`` against the request shapes Google's front ends produce."""

from __future__ import annotations

import inspect
import io
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import functions_framework
import pytest
from flask import Flask, Request
from flask.testing import FlaskClient
from typing_extensions import assert_type
from werkzeug.test import EnvironBuilder, TestResponse

from qstash_receiver.adapters import gcf as adapter
from qstash_receiver.adapters.gcf import PublicUrl, current_message, public_url, verify_qstash
from qstash_receiver.testing import DEMO_KEYS, sign, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

SOURCE = Path(__file__).with_name("test_gcf_functions.py")
EU_CURRENT, _ = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, _ = DEMO_KEYS["US_EAST_1"]
BODY = b'{"event": "order.created", "order_id": 4217}'
BINARY = bytes(range(256)) + b"\xff\xfe\x00 not utf-8"
LIMIT = 64
GEN1_HOST = "us-central1-demo-project.cloudfunctions.net"
RUN_HOST = "qstash-handler-123456789.us-central1.run.app"


@pytest.fixture(scope="module")
def apps() -> dict[str, Flask]:
    targets = ("plain", "limited", "url_checked", "deployed", "unconfigured", "guarded_job")
    create = functions_framework.create_app  # the factory behind the functions-framework CLI
    return {target: create(target, str(SOURCE)) for target in targets}  # type: ignore[no-untyped-call]


def client(apps: dict[str, Flask], target: str) -> FlaskClient:
    return apps[target].test_client()


@pytest.fixture
def handled(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Message ids the functions handled so far (their ``handled <id>`` log lines)."""
    caplog.set_level(logging.INFO, logger="qstash_gcf_tests")
    return lambda: [
        r.getMessage().removeprefix("handled ")
        for r in caplog.records
        if r.name == "qstash_gcf_tests"
    ]


def us(
    body: bytes = BODY, url: str = "https://example.com/api/qstash", **kw: object
) -> dict[str, str]:
    return signed_headers(body, key=US_CURRENT, url=url, region="US_EAST_1", **kw)  # type: ignore[arg-type]


def assert_rejected(response: TestResponse, status: int, reason: str) -> None:
    phrase = {401: "Unauthorized", 413: TOO_LARGE, 500: "Internal Server Error"}[status]
    assert (response.status_code, response.get_data(as_text=True)) == (
        status,
        f"{status} {phrase}: {reason}",
    )
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("key", "region"), [(US_CURRENT, "US_EAST_1"), (EU_CURRENT, "EU_CENTRAL_1")], ids=["us", "eu"]
)
def test_both_regions(apps: dict[str, Flask], key: str, region: str) -> None:
    headers = {**signed_headers(BODY, key=key, region=region), "Content-Type": "application/json"}
    response = client(apps, "plain").post("/", data=BODY, headers=headers)
    assert response.status_code == 200
    seen = response.get_json()
    assert seen["key_region"] == region
    assert seen["message_id"] == headers["Upstash-Message-Id"]
    assert seen["json"] == {"event": "order.created", "order_id": 4217}  # get_json still works
    assert seen["same_body"] is True


def test_get_with_empty_body_and_binary_body(apps: dict[str, Flask]) -> None:
    functions = client(apps, "plain")
    response = functions.get("/any/path", headers=us(b""))
    assert (response.status_code, response.get_json()["length"]) == (200, 0)
    response = functions.post("/", data=BINARY, headers=us(BINARY))
    assert response.status_code == 200
    assert response.get_json()["length"] == len(BINARY)
    assert response.get_json()["same_body"] is True


def test_handler_runs_only_for_genuine_deliveries(
    apps: dict[str, Flask], handled: Callable[[], list[str]]
) -> None:
    functions = client(apps, "plain")
    genuine = us(message_id="msg_genuine")
    missing = {k: v for k, v in us(message_id="msg_missing").items() if k != "Upstash-Signature"}
    cases = [
        (genuine, BODY, 200),
        (us(message_id="msg_tampered"), BODY + b"!", 401),
        (us(message_id="msg_expired", now=time.time() - 301), BODY, 401),
        (missing, BODY, 401),
        (signed_headers(BODY, key=EU_CURRENT, region="US_EAST_1", message_id="msg_x"), BODY, 401),
    ]
    for headers, body, status in cases:
        assert functions.post("/", data=body, headers=headers).status_code == status
    assert_rejected(functions.post("/", data=BODY, headers=missing), 401, "missing_signature")
    assert handled() == ["msg_genuine"]


def test_413_declared_and_chunked(apps: dict[str, Flask]) -> None:
    functions = client(apps, "limited")
    at_limit = b"a" * LIMIT
    assert functions.post("/", data=at_limit, headers=us(at_limit)).status_code == 200
    over = b"a" * (LIMIT + 1)
    assert_rejected(functions.post("/", data=over, headers=us(over)), 413, "body_too_large")
    builder = EnvironBuilder(
        "/", method="POST", headers=list(us(over * 4).items()), input_stream=io.BytesIO(over * 4)
    )
    environ = builder.get_environ()
    del environ["CONTENT_LENGTH"]  # chunked, as gunicorn presents it
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    assert_rejected(functions.open(Request(environ)), 413, "body_too_large")


def test_no_keys_is_a_retryable_500(apps: dict[str, Flask]) -> None:
    response = client(apps, "unconfigured").post("/", data=BODY, headers=us())
    assert_rejected(response, 500, "configuration_error")


def test_url_check_with_the_local_server_url(apps: dict[str, Flask]) -> None:
    functions = client(apps, "url_checked")
    own = "http://localhost/hooks/qstash?tenant=7"
    response = functions.post("/hooks/qstash?tenant=7", data=BODY, headers=us(url=own))
    assert (response.status_code, response.get_json()["url"]) == (200, own)
    other = us(url="http://localhost/hooks/other?tenant=7")
    assert_rejected(
        functions.post("/hooks/qstash?tenant=7", data=BODY, headers=other), 401, "url_mismatch"
    )


@pytest.mark.parametrize(
    ("host", "path", "public"),
    [
        # 1st gen: the front end strips the function name from the path.
        (GEN1_HOST, "/", f"https://{GEN1_HOST}/qstash-handler"),
        (GEN1_HOST, "/orders?x=1", f"https://{GEN1_HOST}/qstash-handler/orders?x=1"),
        # Cloud Run URL of a 2nd gen function: host and path arrive as they were.
        (RUN_HOST, "/", f"https://{RUN_HOST}/"),
        (RUN_HOST, "/orders?x=1", f"https://{RUN_HOST}/orders?x=1"),
    ],
)
def test_url_check_behind_googles_front_end(
    apps: dict[str, Flask], host: str, path: str, public: str
) -> None:
    front_end = {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    functions = client(apps, "deployed")
    response = functions.post(path, data=BODY, headers={**us(url=public), **front_end})
    assert (response.status_code, response.get_json()["url"]) == (200, public)
    as_http = {**us(url=public.replace("https:", "http:")), **front_end}
    assert_rejected(functions.post(path, data=BODY, headers=as_http), 401, "url_mismatch")


def test_spoofed_forwarded_host_is_not_trusted_by_default(apps: dict[str, Flask]) -> None:
    # A delivery signed for another endpoint, replayed here with X-Forwarded-Host set to match.
    elsewhere = "https://other-service.example.com/"
    headers = {**us(url=elsewhere), "Host": RUN_HOST, "X-Forwarded-Proto": "https"}
    headers["X-Forwarded-Host"] = "other-service.example.com"
    response = client(apps, "deployed").post("/", data=BODY, headers=headers)
    assert_rejected(response, 401, "url_mismatch")


def rebuilt(resolver: PublicUrl, path: str, headers: dict[str, str], *, raw: bool = True) -> str:
    builder = EnvironBuilder(path, base_url="http://127.0.0.1:8080", headers=list(headers.items()))
    environ = builder.get_environ()
    if not raw:  # a WSGI server that does not keep the raw request line
        del environ["RAW_URI"], environ["REQUEST_URI"]
    return resolver(Request(environ))


@pytest.mark.parametrize("raw", [True, False])
def test_public_url_rules(raw: bool) -> None:
    gen1 = {"Host": GEN1_HOST, "X-Forwarded-Proto": "https"}
    assert rebuilt(public_url, "/a", {}, raw=raw) == "http://127.0.0.1:8080/a"  # local
    assert rebuilt(public_url, "/a", {"X-Forwarded-Proto": "https, http"}, raw=raw) == (
        "https://127.0.0.1:8080/a"  # the first hop's protocol
    )
    named = PublicUrl(function_name="qstashHandler", environ={"K_SERVICE": "ignored"})
    assert rebuilt(named, "/", gen1, raw=raw) == f"https://{GEN1_HOST}/qstashHandler"
    assert rebuilt(named, "/?a=1", gen1, raw=raw) == f"https://{GEN1_HOST}/qstashHandler?a=1"
    python37 = PublicUrl(environ={"FUNCTION_NAME": "legacy"})
    assert rebuilt(python37, "/", gen1, raw=raw) == f"https://{GEN1_HOST}/legacy"
    unnamed = PublicUrl(environ={})
    assert rebuilt(unnamed, "/", gen1, raw=raw) == f"https://{GEN1_HOST}/"
    encoded = rebuilt(unnamed, "/a%20b/%C3%A9?q=%2F&r=%C3%A9", {"Host": RUN_HOST}, raw=raw)
    assert encoded == f"http://{RUN_HOST}/a%20b/%C3%A9?q=%2F&r=%C3%A9"


def test_forwarded_host_when_trusted() -> None:
    # Firebase Hosting rewrites: the function sees the site's host in X-Forwarded-Host.
    firebase = {"Host": GEN1_HOST, "X-Forwarded-Host": "shop.web.app", "X-Forwarded-Proto": "https"}
    trusting = PublicUrl(trust_forwarded_host=True, environ={"K_SERVICE": "fn"})
    assert rebuilt(trusting, "/api/qstash", firebase) == "https://shop.web.app/api/qstash"
    assert rebuilt(PublicUrl(environ={"K_SERVICE": "fn"}), "/api/qstash", firebase) == (
        f"https://{GEN1_HOST}/fn/api/qstash"
    )


def test_the_duplicate_guard_and_retry_control_on_cloud_functions(
    apps: dict[str, Flask], handled: Callable[[], list[str]]
) -> None:
    job = client(apps, "guarded_job")
    headers = us(message_id="msg_gcf_once")
    assert job.post("/", data=BODY, headers=headers).status_code == 200
    again = job.post("/", data=BODY, headers=us(message_id="msg_gcf_once", retried=1))
    assert (again.status_code, again.get_data(as_text=True)) == (200, "200 OK: duplicate")
    assert handled() == ["msg_gcf_once"]
    refused_body = b'{"refuse": true}'
    refused = job.post("/", data=refused_body, headers=us(refused_body, message_id="msg_gcf_no"))
    assert refused.status_code == 489
    assert refused.headers["Upstash-NonRetryable-Error"] == "true"


def test_current_message_outside_a_request() -> None:
    with pytest.raises(LookupError):
        current_message()


def test_decorator_keeps_the_function_signature() -> None:
    def function(request: Request) -> str:
        return "ok"

    bare = verify_qstash(function)
    configured = verify_qstash(url=public_url, clock_tolerance=2, max_body_bytes=10)(function)
    if TYPE_CHECKING:  # checked by mypy --strict: an unused "ignore" (lost signature) fails it
        bare("not a request")  # type: ignore[arg-type]
        assert_type(configured(Request({})), str)
    assert bare.__name__ == configured.__name__ == "function"
    assert not inspect.iscoroutinefunction(bare)


def test_error_classes_are_reexported() -> None:
    import qstash_receiver

    for name in ("QStashError", "SignatureError", "ConfigError", "VerifiedMessage"):
        assert getattr(adapter, name) is getattr(qstash_receiver, name)


def test_signature_never_in_the_answer(apps: dict[str, Flask]) -> None:
    signature = sign(BODY, key=US_CURRENT)
    headers = {**us(), "Upstash-Signature": signature}
    response = client(apps, "plain").post("/", data=BODY + b"x", headers=headers)
    assert response.status_code == 401
    assert signature.split(".")[2] not in response.get_data(as_text=True)


def test_sample_is_laid_out_as_cloud_functions_deploys_it() -> None:
    from packaging.requirements import Requirement

    sample = SOURCE.parents[1] / "samples" / "gcf"
    assert "def qstash_handler(" in (sample / "main.py").read_text()
    lines = (sample / "requirements.txt").read_text().splitlines()
    wanted = [Requirement(line) for line in lines if line and not line.startswith(("#", "--"))]
    assert {(r.name, frozenset(r.extras)) for r in wanted} == {
        ("functions-framework", frozenset()),
        ("qstash-receiver", frozenset({"gcf"})),
    }
    assert (sample / "payload.json").is_file()


def test_verify_qstash_above_functions_framework_http_is_refused() -> None:
    with pytest.raises(TypeError, match=r"@verify_qstash is above @\.\.\.http\(\.\.\.\)"):

        @verify_qstash
        @functions_framework.http
        def handle(request: Request) -> str:
            return "handler ran"
