"""The FastAPI adapter in-process, with FastAPI's TestClient: the dependency in async and sync
path operations and in ``APIRouter(dependencies=...)``, answers with and without ``install``,
body parameters and the OpenAPI schema, and what importing the adapter costs."""

# No "from __future__ import annotations": the routes below use dependencies defined in the
# test functions, which FastAPI could not resolve from strings.
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from asgi_apps import (
    CHECKED_PATHS,
    HANDLED,
    JSON_BODY,
    RECEIVER,
    US_CURRENT,
    fastapi_app,
    send_every_delivery,
    signed,
)
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from typing_extensions import assert_type

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters import fastapi as adapter
from qstash_receiver.adapters.fastapi import (
    QStashRejected,
    QStashVerifier,
    get_message,
    install,
    rejection_handler,
    verified_message,
)

BASE = "http://testserver"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(fastapi_app(), base_url=BASE) as test_client:
        yield test_client


@pytest.mark.parametrize("target", sorted(CHECKED_PATHS))
def test_every_delivery_gets_its_answer(client: TestClient, target: str) -> None:
    path = CHECKED_PATHS[target]
    send_every_delivery(client, BASE, path, target, f"fastapi_tc_{target}")


def test_no_signing_keys_is_a_retryable_500(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/fastapi/unconfigured"
    headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", BASE + path, "msg_fastapi_no_keys")
    with caplog.at_level(logging.DEBUG):
        response = client.post(path, content=JSON_BODY, headers=headers)
    assert (response.status_code, response.text) == (
        500,
        "500 Internal Server Error: configuration_error",
    )
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert HANDLED["msg_fastapi_no_keys"] == 0
    # Only the library's own lines (the cause, the operator's cue; the delivery's record), no
    # framework traceback.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["qstash_receiver", "qstash_receiver.delivery"]
    assert getattr(errors[1], "qstash_outcome", None) == "unavailable"
    assert all(r.exc_info is None for r in caplog.records)


def test_rejections_are_handled_exceptions_not_server_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # raise_server_exceptions (the default) re-raises whatever reached the server unhandled.
    with TestClient(fastapi_app(), base_url=BASE) as client, caplog.at_level(logging.DEBUG):
        response = client.post("/fastapi/async", content=JSON_BODY)
    assert (response.status_code, response.text) == (401, "401 Unauthorized: missing_signature")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_without_install_fastapi_answers_the_same_status_and_text_as_json() -> None:
    app = FastAPI()
    verifier = QStashVerifier(receiver=RECEIVER, max_body_bytes=10)

    @app.post("/hook")
    async def hook(message: Annotated[VerifiedMessage, Depends(verifier)]) -> dict[str, str]:
        return {"id": str(message.message_id)}

    with TestClient(app) as client:
        refused = client.post("/hook", content=b"{}")
        too_large = client.post("/hook", content=b"x" * 11)
        installed = FastAPI(exception_handlers={QStashRejected: rejection_handler})
        installed.post("/hook")(hook)
        with TestClient(installed) as other:
            plain = other.post("/hook", content=b"{}")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "401 Unauthorized: missing_signature"}
    assert too_large.status_code == 413
    assert too_large.json()["detail"].endswith(": body_too_large")
    assert (plain.status_code, plain.text) == (401, "401 Unauthorized: missing_signature")
    assert plain.headers["content-type"] == "text/plain; charset=utf-8"


def test_rejection_headers_reach_the_answer() -> None:
    from qstash_receiver import RetryLater
    from qstash_receiver.integration import answer_for

    rejection = answer_for(RetryLater(30))
    error = QStashRejected(rejection)
    assert (error.status_code, error.detail, error.headers) == (
        503,
        "503 Service Unavailable: retry_later",
        {"Retry-After": "30"},
    )
    app = FastAPI()
    install(app)

    @app.get("/later")
    async def later() -> None:
        raise error

    with TestClient(app) as client:
        response = client.get("/later")
    assert (response.status_code, response.headers["retry-after"]) == (503, "30")
    assert response.text == "503 Service Unavailable: retry_later"


# --- body parameters, the schema, one dependency per request ---------------------------------


def test_body_parameters_work_beside_the_dependency(client: TestClient) -> None:
    path = "/fastapi/order"
    headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", BASE + path, "msg_order")
    response = client.post(path, content=JSON_BODY, headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "order": {"event": "order.created", "order_id": 4217, "amount_cents": 1999},
        "message_id": "msg_order",
    }
    assert HANDLED["msg_order"] == 1
    tampered = client.post(path, content=JSON_BODY.replace(b"1999", b"2999"), headers=headers)
    assert (tampered.status_code, tampered.text) == (401, "401 Unauthorized: body_mismatch")


def test_the_dependency_adds_nothing_to_the_openapi_schema(client: TestClient) -> None:
    schema: dict[str, Any] = client.get("/openapi.json").json()
    for path in ("/fastapi/async", "/fastapi/sync", "/router/hook", "/fastapi/unconfigured"):
        for operation in schema["paths"][path].values():
            assert "requestBody" not in operation, path
            assert operation.get("parameters", []) == [], path
    order = schema["paths"]["/fastapi/order"]["post"]
    assert order["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Order"
    }
    assert order.get("parameters", []) == []
    assert set(schema["components"]["schemas"]) == {
        "Order",
        "HTTPValidationError",
        "ValidationError",
    }


class CountingVerifier(QStashVerifier):
    calls = 0

    async def __call__(self, request: Request) -> VerifiedMessage:
        CountingVerifier.calls += 1
        return await super().__call__(request)


def test_router_dependency_and_parameter_are_solved_once() -> None:
    verifier = CountingVerifier(receiver=RECEIVER)
    router = APIRouter(dependencies=[Depends(verifier)])

    @router.post("/jobs/{name}")
    async def job(
        name: str, request: Request, message: Annotated[VerifiedMessage, Depends(verifier)]
    ) -> dict[str, Any]:
        return {"name": name, "same": get_message(request) is message}

    @router.post("/plain")
    async def plain(request: Request) -> dict[str, Any]:
        return {"id": get_message(request).message_id, "body": (await request.body()).decode()}

    app = FastAPI()
    install(app)
    app.include_router(router)
    with TestClient(app) as client:
        headers = signed(JSON_BODY, US_CURRENT, "US_EAST_1", "-", "msg_router")
        response = client.post("/jobs/bill", content=JSON_BODY, headers=headers)
        assert response.json() == {"name": "bill", "same": True}
        assert CountingVerifier.calls == 1
        response = client.post("/plain", content=JSON_BODY, headers=headers)
        assert response.json() == {"id": "msg_router", "body": JSON_BODY.decode()}
        refused = client.post("/plain", content=JSON_BODY)
        assert (refused.status_code, refused.text) == (401, "401 Unauthorized: missing_signature")


def test_verified_message_is_the_default_dependency() -> None:
    assert isinstance(verified_message, QStashVerifier)
    assert verified_message._endpoint.options.receiver is None  # the environment's, lazily


@pytest.mark.parametrize(
    ("options", "error"),
    [({"max_body_bytes": 1.5}, ValueError), ({"url": 7}, TypeError), ({"receiver": 1}, TypeError)],
)
def test_invalid_options_fail_at_once(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        QStashVerifier(**options)


def test_types_of_the_public_api() -> None:
    verifier = QStashVerifier(url="https://x.test/", clock_tolerance=2, max_body_bytes=10)
    assert verifier._endpoint.max_body_bytes == 10
    if TYPE_CHECKING:  # checked by mypy --strict: an unused "ignore" fails it
        QStashVerifier(max_body_bytes="10")  # type: ignore[arg-type]
        QStashVerifier(paths=["/x"])  # type: ignore[call-arg]

        async def use(request: Request) -> None:
            assert_type(await verifier(request), VerifiedMessage)


def test_error_classes_are_reexported() -> None:
    import qstash_receiver

    for name in ("QStashError", "SignatureError", "ConfigError", "VerifiedMessage"):
        assert getattr(adapter, name) is getattr(qstash_receiver, name)


# --- import cost -----------------------------------------------------------------------------

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("httpx", "httpx2"))))
"""


@pytest.mark.parametrize(
    "module",
    ["qstash_receiver.adapters.fastapi", "qstash_receiver.adapters.starlette", "httpx"],
)
def test_importing_the_adapters_imports_no_http_client(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(done.stdout)
    if module == "httpx":  # the probe itself sees an HTTP client when one is imported
        assert "httpx" in loaded
    else:
        assert loaded == []
