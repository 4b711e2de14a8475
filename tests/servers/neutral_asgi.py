"""ASGI apps behind ``qstash_receiver.adapters.asgi.QStashMiddleware``, for uvicorn.

``uvicorn neutral_asgi:plain --app-dir tests/servers`` (also ``:litestar_app``,
``:quart_app``); Django's ASGI handler is in neutral_django.py. Each app is wrapped twice:
``/qstash`` verified, ``/once`` verified with the duplicate guard. Litestar lets
``NonRetryableError`` and ``RetryLater`` propagate to the middleware and Quart answers them with
the same answers, as the docs say to.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar, Request, route
from litestar.response import Response as LitestarResponse
from neutral_common import CHECKED, GUARD, GUARDED, SLOW, VERIFIED, action, counting_asgi, seen
from quart import Quart
from quart import request as quart_request

from qstash_receiver import NonRetryableError, RetryLater
from qstash_receiver.adapters.asgi import ASGIApp, QStashMiddleware, get_message
from qstash_receiver.integration import handler_answer

METHODS: list[Any] = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def protect(app: ASGIApp) -> ASGIApp:
    guarded = QStashMiddleware(app, paths=GUARDED, **GUARD)
    return counting_asgi(QStashMiddleware(guarded, paths=VERIFIED, **CHECKED))


async def _plain(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if not scope["path"].startswith(("/qstash", "/once")):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
        return
    message = get_message(scope)
    if action(message) == "slow":
        await asyncio.sleep(SLOW)
    raw, more = b"", True
    while more:
        event = await receive()
        raw += event.get("body", b"")
        more = event.get("more_body", False)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": seen(message, raw, get_message(scope))})


@route(["/qstash", "/once"], http_method=METHODS, status_code=200)
async def _litestar_hook(request: Request[Any, Any, Any]) -> LitestarResponse[bytes]:
    message = get_message(request.scope)
    if action(message) == "slow":
        await asyncio.sleep(SLOW)
    raw = await request.body()
    return LitestarResponse(seen(message, raw, get_message(request.scope)))


def _reraise(request: Any, error: Exception) -> Any:
    raise error  # to the middleware, which answers 489 / 503


def _litestar() -> Litestar:
    handlers: Any = {NonRetryableError: _reraise, RetryLater: _reraise}
    return Litestar([_litestar_hook], exception_handlers=handlers)


def _quart() -> Quart:
    app = Quart(__name__)

    # Quart answers a view's exceptions itself (how it propagates them varies by release):
    # its error handlers give the two lifecycle errors the answers the middleware would.
    @app.errorhandler(NonRetryableError)
    @app.errorhandler(RetryLater)
    async def lifecycle_error(error: NonRetryableError | RetryLater) -> Any:
        answer = handler_answer(error)
        return answer.text, answer.status, answer.headers

    @app.route("/qstash", methods=METHODS)
    @app.route("/once", methods=["POST"], endpoint="once")
    async def hook() -> bytes:
        message = get_message(quart_request.scope)
        if action(message) == "slow":
            await asyncio.sleep(SLOW)
        raw = await quart_request.get_data(as_text=False)
        assert isinstance(raw, bytes)
        return seen(message, raw, get_message(quart_request.scope))

    return app


plain = protect(_plain)
litestar_app = protect(_litestar())
quart_app = protect(_quart())
