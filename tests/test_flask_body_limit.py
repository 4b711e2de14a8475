"""How much of a refused body is read, in functions-framework's app and a plain Flask app.

functions-framework registers an ``after_request`` hook that reads the whole request body
(``read_request``, "to avoid connection errors"); a refused body must be left unread by it
too. The body here is an endless stream that counts what is read of it.
(tests/test_body_limit_servers.py measures the same under the real servers.)
"""

from __future__ import annotations

import io
from http import HTTPStatus
from pathlib import Path

import functions_framework
import pytest
from flask import Flask, Request, request
from werkzeug.test import EnvironBuilder, TestResponse

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.flask import verify_qstash
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

SOURCE = Path(__file__).with_name("test_gcf_functions.py")
LIMIT = 64  # of the "limited" function there
DECLARED = 16 * 1024 * 1024
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
HEADERS = signed_headers(b"another body", key=US_CURRENT, region="US_EAST_1")
TOO_LARGE = f"413 {HTTPStatus(413).phrase}: body_too_large"


class Endless(io.RawIOBase):
    """A forged body that never ends and counts the bytes read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = b"f" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def gcf_app() -> Flask:
    app: Flask = functions_framework.create_app("limited", str(SOURCE))  # type: ignore[no-untyped-call]
    return app


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/")
    @verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)), max_body_bytes=LIMIT)
    def limited() -> str:
        return "handled"

    return app


APPS = {"functions-framework": gcf_app, "flask": flask_app}


@pytest.fixture(params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> Flask:
    return APPS[request.param]()


def send(app: Flask, body: Endless, *, chunked: bool) -> TestResponse:
    environ = EnvironBuilder("/", method="POST", headers=list(HEADERS.items())).get_environ()
    environ["wsgi.input"] = body
    if chunked:  # as gunicorn presents a chunked body
        environ.pop("CONTENT_LENGTH", None)
        environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    else:
        environ["CONTENT_LENGTH"] = str(DECLARED)
    return app.test_client().open(Request(environ))


def test_a_declared_oversize_body_is_not_read_at_all(app: Flask) -> None:
    body = Endless()
    response = send(app, body, chunked=False)
    assert (response.status_code, response.get_data(as_text=True)) == (413, TOO_LARGE)
    assert body.read_bytes == 0


def test_a_chunked_oversize_body_is_read_one_byte_past_the_limit(app: Flask) -> None:
    body = Endless()
    response = send(app, body, chunked=True)
    assert (response.status_code, response.get_data(as_text=True)) == (413, TOO_LARGE)
    assert body.read_bytes == LIMIT + 1


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_stricter_max_content_length_answers_flasks_own_413_unread(
    app: Flask, chunked: bool
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = LIMIT // 2
    body = Endless()
    response = send(app, body, chunked=chunked)
    assert response.status_code == 413
    assert "body_too_large" not in response.get_data(as_text=True)  # Flask's page, not ours
    assert body.read_bytes == (LIMIT // 2 + 1 if chunked else 0)


def test_a_stream_opened_before_the_view_with_flasks_limit_is_refused(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = LIMIT // 2

    @app.before_request
    def open_stream() -> None:  # e.g. a middleware that peeks at request.stream
        assert request.stream is not None

    body = Endless()
    response = send(app, body, chunked=True)
    assert response.status_code == 413  # Flask's own, not a 500 from a later reader
    assert body.read_bytes == LIMIT // 2  # the stream Flask made stops at its limit
