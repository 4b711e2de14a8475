"""Fuzzing the ASGI adapters: the Starlette middleware and decorator, the FastAPI dependency.

The same deliveries as tests/test_fuzz.py (tests/fuzzing.py: signed, then 0 to 3 mutations of
token, body and headers) through Starlette's own TestClient; ``QSTASH_FUZZ_CASES`` sets the
count (default 2,000; the big run is 100,000). No false accept, no exception escaping: every
request reaches the handler with exactly a signed delivery, or is answered 401/413.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at runtime.
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fuzzing import (
    CASES,
    RECEIVER,
    Registry,
    Tally,
    assert_clean,
    delivery,
    judge,
    rng_for,
    seen_as_json,
    seen_from_json,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters import starlette as starlette_adapter
from qstash_receiver.adapters.fastapi import QStashVerifier, install

METHODS = ["POST", "POST", "POST", "PUT", "GET", "DELETE", "PATCH"]


async def _middleware_route(request: Request) -> Response:
    return Response(seen_as_json(starlette_adapter.get_message(request)))


@starlette_adapter.verify_qstash(receiver=RECEIVER, max_body_bytes=512)
async def _decorated(request: Request) -> Response:
    return Response(seen_as_json(starlette_adapter.get_message(request)))


def starlette_app() -> Starlette:
    guarded = Starlette(
        routes=[Route("/", _middleware_route, methods=METHODS)],
        middleware=[Middleware(starlette_adapter.QStashMiddleware, receiver=RECEIVER)],
    )
    return Starlette(
        routes=[Mount("/middleware", guarded), Route("/decorated", _decorated, methods=METHODS)]
    )


def fastapi_app() -> FastAPI:
    app = FastAPI()
    install(app)
    verified = QStashVerifier(receiver=RECEIVER)

    @app.api_route("/dependency", methods=METHODS)
    async def dependency(message: Annotated[VerifiedMessage, Depends(verified)]) -> Response:
        return Response(seen_as_json(message))

    return app


def fuzz(name: str, client: TestClient, paths: list[str]) -> Tally:
    rng, registry, tally = rng_for(name), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry, on_the_wire=True)
        path, method = rng.choice(paths), rng.choice(METHODS)

        def run(made: Any = made, path: str = path, method: str = method) -> tuple[int, Any]:
            # As bytes: httpx sends str header values as ASCII only, the wire allows latin-1.
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in made.headers]
            response = client.request(method, path, headers=headers, content=made.body)
            if response.status_code == 200:
                return 200, seen_from_json(response.content)
            assert response.status_code in (401, 413), (response.status_code, response.text)
            return response.status_code, None

        judge(tally, registry, made, run)
    return tally


def test_fuzz_starlette_middleware_and_decorator() -> None:
    with TestClient(starlette_app(), raise_server_exceptions=True) as client:
        tally = fuzz("starlette", client, ["/middleware/", "/decorated"])
    assert_clean(tally, "Starlette QStashMiddleware and verify_qstash", CASES)


def test_fuzz_fastapi_dependency() -> None:
    with TestClient(fastapi_app(), raise_server_exceptions=True) as client:
        tally = fuzz("fastapi", client, ["/dependency"])
    assert_clean(tally, "FastAPI QStashVerifier dependency", CASES)
