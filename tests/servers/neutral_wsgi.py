"""WSGI apps behind ``qstash_receiver.adapters.wsgi.QStashMiddleware``, for gunicorn.

``gunicorn neutral_wsgi:plain --chdir tests/servers`` (also ``:falcon_app``, ``:flask_app``);
Django is in neutral_django.py. Each app is wrapped twice: ``/qstash`` verified, ``/once``
verified with the duplicate guard. Falcon and Flask let ``NonRetryableError`` and
``RetryLater`` propagate to the middleware, as the docs say to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import falcon
from flask import Flask, Response, request
from neutral_common import CHECKED, GUARD, GUARDED, SLOW, VERIFIED, action, counting_wsgi, seen

from qstash_receiver import NonRetryableError, RetryLater
from qstash_receiver.adapters.wsgi import QStashMiddleware, get_message


def protect(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    guarded = QStashMiddleware(app, paths=GUARDED, **GUARD)
    return counting_wsgi(QStashMiddleware(guarded, paths=VERIFIED, **CHECKED))


def _plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if not environ["PATH_INFO"].startswith(("/qstash", "/once")):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    message = get_message(environ)
    if action(message) == "slow":
        time.sleep(SLOW)
    raw = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [seen(message, raw, get_message(environ))]


class _Resource:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        message = get_message(req.env)
        if action(message) == "slow":
            time.sleep(SLOW)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = seen(message, req.bounded_stream.read(), get_message(req.env))

    on_get = on_put = on_patch = on_delete = on_post


def _reraise(req: Any, resp: Any, error: Exception, params: Any) -> None:
    raise error  # to the middleware, which answers 489 / 503


def _falcon() -> falcon.App[falcon.Request, falcon.Response]:
    app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
    app.add_route("/qstash", _Resource())
    app.add_route("/once", _Resource())
    app.add_error_handler(NonRetryableError, _reraise)
    app.add_error_handler(RetryLater, _reraise)
    return app


def _flask() -> Flask:
    app = Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True  # the two lifecycle errors reach the middleware

    @app.route("/qstash", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/once", methods=["POST"], endpoint="once")
    def hook() -> Response:
        message = get_message(request.environ)
        if action(message) == "slow":
            time.sleep(SLOW)
        return Response(seen(message, request.get_data(), get_message(request.environ)))

    return app


plain = protect(_plain)
falcon_app = protect(_falcon())
flask_app = protect(_flask())
