"""Fuzzing the aiohttp adapter (on a real aiohttp server), the Azure Functions adapter (through
``azure.functions.HttpRequest`` objects) and ``WorkflowReceiver`` (called as upstash-workflow
calls it): no false accept, no exception escaping.

The deliveries of tests/fuzzing.py (signed, then 0 to 3 mutations of token, body and
headers); ``QSTASH_FUZZ_CASES`` per target (default 2,000; the big run is
``QSTASH_FUZZ_CASES=100000 .venv/bin/pytest -s tests/test_fuzz_stacks.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import azure.functions as func
import httpx
import pytest
from aiohttp import web
from aiohttp_server import served
from fuzzing import (
    CASES,
    CURRENT,
    NEXT,
    RECEIVER,
    URL,
    Registry,
    Seen,
    Tally,
    assert_clean,
    delivery,
    judge,
    rng_for,
    seen_as_json,
    seen_by_handler,
    seen_from_json,
)

from qstash_receiver import QStashError, Receiver, load_config
from qstash_receiver.adapters import aiohttp as aiohttp_adapter
from qstash_receiver.adapters import azure_functions as azure_adapter
from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.integration import answer_for

METHODS = ["POST", "POST", "POST", "PUT", "GET", "DELETE", "PATCH"]


# --- aiohttp ------------------------------------------------------------------------------


async def _answer(request: web.Request) -> web.Response:
    return web.Response(text=seen_as_json(aiohttp_adapter.get_message(request)))


@aiohttp_adapter.verify_qstash(receiver=RECEIVER, max_body_bytes=512)
async def _decorated(request: web.Request) -> web.Response:
    return await _answer(request)


def _wire(value: str) -> bytes:
    return value.strip(" \t").encode("latin-1")


@pytest.fixture(scope="module")
def aiohttp_base() -> Iterator[str]:
    app = web.Application(
        middlewares=[aiohttp_adapter.qstash_middleware(paths=["/middleware"], receiver=RECEIVER)]
    )
    for method in set(METHODS):
        app.router.add_route(method, "/middleware/", _answer)
        app.router.add_route(method, "/decorated", _decorated)
    with served(app) as base:
        yield base


def test_fuzz_aiohttp_decorator_and_middleware(aiohttp_base: str) -> None:
    rng, registry, tally = rng_for("aiohttp"), Registry(), Tally()
    with httpx.Client(base_url=aiohttp_base, timeout=30) as client:
        for _ in range(CASES):
            made = delivery(rng, registry, on_the_wire=True)
            path, method = rng.choice(["/middleware/", "/decorated"]), rng.choice(METHODS)

            def run(made: Any = made, path: str = path, method: str = method) -> tuple[int, Any]:
                # As bytes: httpx sends str header values as ASCII only, the wire allows latin-1.
                # Without the whitespace around a value, which a server strips and h11 refuses.
                headers = [(k.encode("latin-1"), _wire(v)) for k, v in made.headers]
                response = client.request(method, path, headers=headers, content=made.body)
                if response.status_code == 200:
                    return 200, seen_from_json(response.content)
                assert response.status_code in (401, 413), (response.status_code, response.text)
                return response.status_code, None

            judge(tally, registry, made, run)
    assert_clean(tally, "aiohttp verify_qstash and qstash_middleware", CASES)


# --- Azure Functions --------------------------------------------------------------------------


@azure_adapter.verify_qstash(receiver=RECEIVER)
def _azure_function(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(seen_as_json(azure_adapter.get_message(req)))


def _host_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    # The Functions host hands one value per name: repeated headers joined with ", ".
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def test_fuzz_azure_functions() -> None:
    rng, registry, tally = rng_for("azure"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry, on_the_wire=True)
        method = rng.choice(METHODS)

        def run(made: Any = made, method: str = method) -> tuple[int, Any]:
            req = func.HttpRequest(method, URL, headers=_host_headers(made.headers), body=made.body)
            response = _azure_function(req=req)
            if response.status_code == 200:
                return 200, seen_from_json(response.get_body())
            assert response.status_code in (401, 413), response.get_body()
            return response.status_code, None

        judge(tally, registry, made, run)
    assert_clean(tally, "Azure Functions verify_qstash", CASES)


# --- Upstash Workflow -----------------------------------------------------------------------

#: Migration mode: the fuzz keys are US_EAST_1's; EU_CENTRAL_1 has keys of its own.
WORKFLOW_ENV = {
    "QSTASH_REGION": "US_EAST_1",
    "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": CURRENT,
    "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": NEXT,
    "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": "sig_fuzzEuCurrent00000000000000000",
    "EU_CENTRAL_1_QSTASH_NEXT_SIGNING_KEY": "sig_fuzzEuNext0000000000000000000000",
}


def test_fuzz_workflow_receiver() -> None:
    receiver = WorkflowReceiver(receiver=Receiver(config=load_config(WORKFLOW_ENV)))
    rng, registry, tally = rng_for("workflow"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry)
        # What the SDK hands over: the first Upstash-Signature, the body as text ("" when it is
        # not UTF-8: its asyncio path reads it so).
        signature = next((v for n, v in made.headers if n.lower() == "upstash-signature"), "")
        try:
            text = made.body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""

        def run(signature: str = signature, text: str = text) -> tuple[int, Seen | None]:
            try:
                message = receiver.verify(body=text, signature=signature)
            except QStashError as error:
                return answer_for(error).status, None
            return 200, seen_by_handler(message)

        judge(tally, registry, made, run)
    assert_clean(tally, "WorkflowReceiver (migration mode, any region)", CASES)
