"""The Flask adapter in-process, with Flask's own test client: every answer of DESIGN.md for
sync and async views, body handling (GET, binary, get_json, limits) and the extension."""

from __future__ import annotations

import io
import json
import logging
import time
from http import HTTPStatus
from typing import TYPE_CHECKING

import pytest
from flask import Blueprint, Flask, Response, g, request
from flask.testing import FlaskClient
from typing_extensions import assert_type
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import flask as adapter
from qstash_receiver.adapters.flask import QStash, current_message, verify_qstash
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.integration import DEFAULT_MAX_BODY_BYTES
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
URL = "https://hooks.example.com/qstash"
BODY = b'{"event": "order.created", "order_id": 4217}'
BINARY = bytes(range(256)) + b"\xff\xfe\x00 not utf-8 \xc3\x28"
LIMIT = 64
RECEIVER = Receiver(config=load_config(DEMO_ENV))


def answer() -> Response:
    """What every test view returns: what it saw, so tests can check the view ran."""
    message = current_message()
    assert g.qstash_message is message
    return Response(
        json.dumps(
            {
                "ran": True,
                "message_id": message.message_id,
                "key_region": message.key_region,
                "key_used": message.key_used,
                "json": request.get_json(silent=True),
                "same_body": request.get_data() == message.body,
                "length": len(message.body),
            }
        ),
        mimetype="application/json",
    )


def make_app() -> Flask:
    app = Flask(__name__)

    @app.route("/sync", methods=["GET", "POST", "PUT", "DELETE"])
    @verify_qstash(receiver=RECEIVER)
    def sync_view() -> Response:
        return answer()

    @app.route("/async", methods=["GET", "POST", "PUT", "DELETE"])
    @verify_qstash(receiver=RECEIVER)
    async def async_view() -> Response:
        return answer()

    @app.post("/sync-limited")
    @verify_qstash(receiver=RECEIVER, max_body_bytes=LIMIT)
    def sync_limited() -> Response:
        return answer()

    @app.post("/async-limited")
    @verify_qstash(receiver=RECEIVER, max_body_bytes=LIMIT)
    async def async_limited() -> Response:
        return answer()

    @app.post("/url")
    @verify_qstash(receiver=RECEIVER, url=URL)
    def fixed_url() -> Response:
        return answer()

    @app.post("/callable-url")
    @verify_qstash(receiver=RECEIVER, url=lambda r: r.url)
    def callable_url() -> Response:
        return answer()

    @app.post("/tolerant")
    @verify_qstash(receiver=RECEIVER, clock_tolerance=30)
    def tolerant() -> Response:
        return answer()

    @app.post("/unconfigured")
    @verify_qstash(receiver=Receiver(config=load_config({})))
    def unconfigured() -> Response:
        return answer()

    @app.post("/items/<int:item_id>")
    @verify_qstash(receiver=RECEIVER)
    def with_arguments(item_id: int) -> Response:
        return Response(f"item {item_id} {current_message().message_id}")

    return app


@pytest.fixture
def client() -> FlaskClient:
    return make_app().test_client()


def us(body: bytes = BODY, **options: object) -> dict[str, str]:
    return signed_headers(body, key=US_CURRENT, region="US_EAST_1", **options)  # type: ignore[arg-type]


def eu(body: bytes = BODY, **options: object) -> dict[str, str]:
    return signed_headers(body, key=EU_CURRENT, region="EU_CENTRAL_1", **options)  # type: ignore[arg-type]


VIEWS = pytest.mark.parametrize("view", ["/sync", "/async"])


def raw_post(
    client: FlaskClient, path: str, body: bytes, headers: dict[str, str], *, length: str | None
) -> TestResponse:
    """A POST as a real server presents it: with ``length`` as Content-Length, or, when it is
    None, a chunked upload (no Content-Length, a stream the server terminates)."""
    environ = EnvironBuilder(
        path, method="POST", headers=list(headers.items()), input_stream=io.BytesIO(body)
    )
    built = environ.get_environ()
    if length is None:
        del built["CONTENT_LENGTH"]
        built.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    else:
        built["CONTENT_LENGTH"] = length
    return client.open(Request(built))


def assert_rejected(response: TestResponse, status: int, reason: str) -> None:
    assert response.status_code == status
    phrase = {401: "Unauthorized", 413: TOO_LARGE, 500: "Internal Server Error"}[status]
    assert response.get_data(as_text=True) == f"{status} {phrase}: {reason}"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert b'"ran"' not in response.get_data()


# --- verified deliveries ---------------------------------------------------------------------


@VIEWS
@pytest.mark.parametrize(
    ("key", "region"),
    [
        (US_CURRENT, "US_EAST_1"),
        (US_NEXT, "US_EAST_1"),
        (EU_CURRENT, "EU_CENTRAL_1"),
        (EU_NEXT, "EU_CENTRAL_1"),
    ],
    ids=["us-current", "us-next", "eu-current", "eu-next"],
)
def test_both_regions_verify_and_get_json_still_works(
    client: FlaskClient, view: str, key: str, region: str
) -> None:
    headers = signed_headers(BODY, key=key, region=region, message_id="msg_ok")
    response = client.post(view, data=BODY, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 200
    seen = response.get_json()
    assert seen["ran"] is True
    assert seen["message_id"] == "msg_ok"
    assert seen["key_region"] == region
    assert seen["key_used"] == ("current" if key in (US_CURRENT, EU_CURRENT) else "next")
    assert seen["json"] == {"event": "order.created", "order_id": 4217}
    assert seen["same_body"] is True


@VIEWS
def test_get_delivery_with_empty_body(client: FlaskClient, view: str) -> None:
    response = client.get(view, headers=eu(b""))
    assert response.status_code == 200
    assert response.get_json()["length"] == 0


@VIEWS
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_other_methods(client: FlaskClient, view: str, method: str) -> None:
    response = client.open(view, method=method, data=BODY, headers=us())
    assert response.status_code == 200


@VIEWS
def test_binary_body_is_hashed_as_raw_bytes(client: FlaskClient, view: str) -> None:
    headers = {**us(BINARY), "Content-Type": "application/octet-stream"}
    response = client.post(view, data=BINARY, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["length"] == len(BINARY)
    assert response.get_json()["same_body"] is True


def test_view_arguments_pass_through(client: FlaskClient) -> None:
    response = client.post("/items/7", data=BODY, headers=us(message_id="msg_7"))
    assert response.get_data(as_text=True) == "item 7 msg_7"


def test_url_option_fixed_and_callable(client: FlaskClient) -> None:
    assert client.post("/url", data=BODY, headers=us(url=URL)).status_code == 200
    assert_rejected(
        client.post("/url", data=BODY, headers=us(url=URL + "/other")), 401, "url_mismatch"
    )
    own = "http://localhost/callable-url"  # the test client's request.url
    assert client.post("/callable-url", data=BODY, headers=us(url=own)).status_code == 200
    assert_rejected(
        client.post("/callable-url", data=BODY, headers=us(url=URL)), 401, "url_mismatch"
    )


def test_clock_tolerance_option(client: FlaskClient) -> None:
    late = us(now=time.time() - 310)  # expired 10 s ago
    assert client.post("/tolerant", data=BODY, headers=late).status_code == 200
    assert_rejected(client.post("/sync", data=BODY, headers=late), 401, "expired")
    too_late = us(now=time.time() - 340)
    assert_rejected(client.post("/tolerant", data=BODY, headers=too_late), 401, "expired")


# --- 401: every way a delivery fails verification -----------------------------------------------


def forged_cases() -> list[tuple[str, dict[str, str], bytes, str]]:
    now = time.time()
    missing = us()
    del missing["Upstash-Signature"]
    wrong_issuer = {**us(), "Upstash-Signature": sign(BODY, key=US_CURRENT, claims={"iss": "x"})}
    forged = signed_headers(BODY, key=FORGED_KEY, region="US_EAST_1")
    other_region = signed_headers(BODY, key=EU_CURRENT, region="US_EAST_1")
    return [
        ("missing", missing, BODY, "missing_signature"),
        ("empty", {**us(), "Upstash-Signature": ""}, BODY, "missing_signature"),
        ("tampered body", us(), BODY + b" ", "body_mismatch"),
        ("forged key", forged, BODY, "invalid_signature"),
        ("other region's key", other_region, BODY, "invalid_signature"),
        ("expired", us(now=now - 301), BODY, "expired"),
        # The cases are built at collection: an hour keeps this one early however long the run.
        ("not yet valid", us(now=now + 3600), BODY, "not_yet_valid"),
        ("wrong issuer", wrong_issuer, BODY, "invalid_issuer"),
        ("malformed", {**us(), "Upstash-Signature": "not.a-jwt"}, BODY, "malformed_signature"),
    ]  # fmt: skip


@VIEWS
@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [case[1:] for case in forged_cases()],
    ids=[case[0] for case in forged_cases()],
)
def test_unverified_deliveries_get_401(
    client: FlaskClient, view: str, headers: dict[str, str], body: bytes, reason: str
) -> None:
    assert_rejected(client.post(view, data=body, headers=headers), 401, reason)


@VIEWS
def test_duplicate_signature_headers(client: FlaskClient, view: str) -> None:
    headers = [*us().items(), ("Upstash-Signature", sign(BODY, key=US_CURRENT))]
    assert_rejected(client.post(view, data=BODY, headers=headers), 401, "duplicate_signature")


@VIEWS
def test_rejections_never_show_the_signature(
    client: FlaskClient, view: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = us()
    with caplog.at_level(logging.DEBUG):
        response = client.post(view, data=BODY + b"x", headers=headers)
    signature = headers["Upstash-Signature"]
    assert response.status_code == 401
    for secret in (signature, signature.split(".")[2], US_CURRENT, US_NEXT):
        assert secret not in response.get_data(as_text=True)
        assert secret not in caplog.text
    assert "body_mismatch" in caplog.text


# --- 413 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["/sync-limited", "/async-limited"])
def test_max_body_bytes(client: FlaskClient, view: str) -> None:
    at_limit = b"a" * LIMIT
    assert client.post(view, data=at_limit, headers=us(at_limit)).status_code == 200
    over = b"a" * (LIMIT + 1)
    assert_rejected(client.post(view, data=over, headers=us(over)), 413, "body_too_large")


@pytest.mark.parametrize("view", ["/sync-limited", "/async-limited"])
@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT])
def test_max_body_bytes_caps_chunked_bodies(client: FlaskClient, view: str, size: int) -> None:
    body = b"c" * size  # no Content-Length to check first: the read itself must stop
    response = raw_post(client, view, body, us(body), length=None)
    assert_rejected(response, 413, "body_too_large")


@pytest.mark.parametrize("view", ["/sync-limited", "/async-limited"])
def test_chunked_body_within_limit(client: FlaskClient, view: str) -> None:
    body = b"c" * LIMIT
    response = raw_post(client, view, body, us(body), length=None)
    assert response.status_code == 200
    assert response.get_json()["length"] == LIMIT


def test_default_limit_is_the_core_default(client: FlaskClient) -> None:
    declared = str(DEFAULT_MAX_BODY_BYTES + 1)  # refused before anything is read
    response = raw_post(client, "/sync", b"", us(), length=declared)
    assert_rejected(response, 413, "body_too_large")


@VIEWS
@pytest.mark.parametrize("chunked", [False, True])
def test_smaller_max_content_length_gives_flasks_own_413(view: str, chunked: bool) -> None:
    app = make_app()
    app.config["MAX_CONTENT_LENGTH"] = 16
    body = b"m" * 17
    response = raw_post(app.test_client(), view, body, us(body), length=None if chunked else "17")
    assert response.status_code == 413
    assert "Request Entity Too Large" in response.get_data(as_text=True)  # Flask's page
    assert response.mimetype == "text/html"
    within = b"m" * 16
    assert app.test_client().post(view, data=within, headers=us(within)).status_code == 200


def test_larger_max_content_length_leaves_max_body_bytes_in_charge() -> None:
    app = make_app()
    app.config["MAX_CONTENT_LENGTH"] = 10 * LIMIT
    over = b"a" * (LIMIT + 1)
    response = app.test_client().post("/sync-limited", data=over, headers=us(over))
    assert_rejected(response, 413, "body_too_large")


# --- 500 ------------------------------------------------------------------------------------


def test_no_signing_keys_is_a_retryable_500(client: FlaskClient) -> None:
    assert_rejected(
        client.post("/unconfigured", data=BODY, headers=us()), 500, "configuration_error"
    )


# --- message access and typing ----------------------------------------------------------------


def test_current_message_outside_a_verified_request() -> None:
    with pytest.raises(LookupError, match="verify_qstash"):
        current_message()
    app = Flask(__name__)
    with app.test_request_context("/"), pytest.raises(LookupError):
        current_message()


def test_decorators_keep_the_view_signature() -> None:
    def view(item_id: int, *, verbose: bool = False) -> str:
        return f"{item_id} {verbose}"

    bare = verify_qstash(view)
    configured = verify_qstash(url=URL, clock_tolerance=1, max_body_bytes=1, receiver=RECEIVER)(
        view
    )
    if TYPE_CHECKING:  # checked by mypy --strict: an unused "ignore" (lost signature) fails it
        bare("7")  # type: ignore[arg-type]
        configured(7, verbose="yes")  # type: ignore[arg-type]
        assert_type(bare(7, verbose=True), str)
    for wrapped in (bare, configured):
        assert wrapped.__name__ == "view"
        assert wrapped.__wrapped__ is view  # type: ignore[attr-defined]


def test_async_views_stay_async() -> None:
    import inspect

    async def view() -> str:
        return "ok"

    assert inspect.iscoroutinefunction(verify_qstash(view))
    assert inspect.iscoroutinefunction(verify_qstash(receiver=RECEIVER)(view))


def test_error_classes_are_reexported() -> None:
    import qstash_receiver

    for name in ("QStashError", "SignatureError", "ConfigError", "VerifiedMessage"):
        assert getattr(adapter, name) is getattr(qstash_receiver, name)


# --- the extension --------------------------------------------------------------------------


def extension_app(config: dict[str, object], environ: dict[str, str]) -> tuple[Flask, QStash]:
    """An app whose views take their keys from the QStash extension (no receiver passed)."""
    app = Flask(__name__)
    app.config.update(config)
    qstash = QStash(app, environ=environ)

    @app.post("/decorated")
    @verify_qstash
    def decorated() -> Response:
        return answer()

    jobs = Blueprint("jobs", __name__, url_prefix="/jobs")
    qstash.protect(jobs)

    @jobs.post("/sync")
    def job() -> Response:
        return answer()

    @jobs.post("/async")
    async def async_job() -> Response:
        return answer()

    limited = Blueprint("limited", __name__, url_prefix="/limited")
    qstash.protect(limited, max_body_bytes=LIMIT, url="http://localhost/limited/")

    @limited.post("/")
    def limited_job() -> Response:
        return answer()

    @app.post("/open")
    def unprotected() -> str:
        return "open"

    app.register_blueprint(jobs)
    app.register_blueprint(limited)
    return app, qstash


PROTECTED = pytest.mark.parametrize("path", ["/decorated", "/jobs/sync", "/jobs/async"])


@PROTECTED
def test_extension_reads_app_config(path: str) -> None:
    app, _ = extension_app(dict(DEMO_ENV), environ={})
    client = app.test_client()
    assert client.post(path, data=BODY, headers=us()).status_code == 200
    assert client.post(path, data=BODY, headers=eu()).status_code == 200
    assert_rejected(client.post(path, data=BODY + b"!", headers=eu()), 401, "body_mismatch")


@PROTECTED
def test_extension_falls_back_to_the_environment(path: str) -> None:
    app, _ = extension_app({}, environ=dict(DEMO_ENV))
    assert app.test_client().post(path, data=BODY, headers=eu()).status_code == 200


def test_app_config_wins_over_the_environment() -> None:
    stale = {
        name: FORGED_KEY if "SIGNING_KEY" in name else value for name, value in DEMO_ENV.items()
    }
    config: dict[str, object] = {
        "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY": US_CURRENT,
        "US_EAST_1_QSTASH_NEXT_SIGNING_KEY": US_NEXT,
        "EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY": None,  # None: use the environment's
        "UNRELATED_SETTING": "ignored",
    }
    app, qstash = extension_app(config, environ=stale)
    client = app.test_client()
    assert client.post("/jobs/sync", data=BODY, headers=us()).status_code == 200
    assert_rejected(client.post("/jobs/sync", data=BODY, headers=eu()), 401, "invalid_signature")
    environ = qstash.environ(app)
    assert environ["US_EAST_1_QSTASH_CURRENT_SIGNING_KEY"] == US_CURRENT
    assert environ["EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY"] == FORGED_KEY
    assert "UNRELATED_SETTING" not in environ


def test_boolean_settings_become_env_values() -> None:
    app, qstash = extension_app({"QSTASH_DEV": True}, environ={})
    assert qstash.environ(app)["QSTASH_DEV"] == "true"
    assert qstash.receiver(app).config.dev_mode
    dev_key = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"  # the QStash dev server's public key
    headers = signed_headers(BODY, key=dev_key)
    assert app.test_client().post("/jobs/sync", data=BODY, headers=headers).status_code == 200


def test_blueprint_options_and_unprotected_routes() -> None:
    app, _ = extension_app(dict(DEMO_ENV), environ={})
    client = app.test_client()
    url = "http://localhost/limited/"
    small = b"s" * LIMIT
    assert client.post("/limited/", data=small, headers=us(small, url=url)).status_code == 200
    big = b"b" * (LIMIT + 1)
    assert_rejected(
        client.post("/limited/", data=big, headers=us(big, url=url)), 413, "body_too_large"
    )
    assert_rejected(client.post("/limited/", data=small, headers=us(small)), 401, "url_mismatch")
    assert client.post("/open", data=BODY).get_data(as_text=True) == "open"


def test_invalid_configuration_is_500_until_fixed() -> None:
    app, _ = extension_app({"QSTASH_DEV": "maybe", **DEMO_ENV}, environ={})
    client = app.test_client()
    for path in ("/decorated", "/jobs/sync"):
        assert_rejected(client.post(path, data=BODY, headers=us()), 500, "configuration_error")
    app.config["QSTASH_DEV"] = ""  # fixed at runtime: the failed resolution was not cached
    assert client.post("/jobs/sync", data=BODY, headers=us()).status_code == 200


def test_missing_keys_are_500() -> None:
    app, _ = extension_app({}, environ={})
    assert_rejected(
        app.test_client().post("/jobs/sync", data=BODY, headers=us()), 500, "configuration_error"
    )


def test_init_app_factory_pattern_and_explicit_receiver_wins() -> None:
    qstash = QStash(environ={})  # created before the app, as in an application factory
    app = Flask(__name__)
    app.config.update(
        {"QSTASH_CURRENT_SIGNING_KEY": FORGED_KEY, "QSTASH_NEXT_SIGNING_KEY": FORGED_KEY}
    )
    qstash.init_app(app)
    assert app.extensions["qstash"] is qstash

    @app.post("/explicit")
    @verify_qstash(receiver=RECEIVER)
    def explicit() -> Response:
        return answer()

    @app.post("/from-extension")
    @verify_qstash
    def from_extension() -> Response:
        return answer()

    client = app.test_client()
    assert client.post("/explicit", data=BODY, headers=us()).status_code == 200
    forged = signed_headers(BODY, key=FORGED_KEY)
    assert client.post("/from-extension", data=BODY, headers=forged).status_code == 200
    assert_rejected(
        client.post("/from-extension", data=BODY, headers=us()), 401, "invalid_signature"
    )


def test_verify_qstash_above_the_route_decorator_is_refused_when_decorating() -> None:
    """The wrong order would register the bare view: refused, never a silent open route."""
    app = Flask(__name__)
    with pytest.raises(TypeError, match=r"@verify_qstash is above @\.\.\.post\(\.\.\.\)"):

        @verify_qstash
        @app.post("/wrong")
        def wrong() -> str:
            return "handler ran"

    blueprint = Blueprint("jobs", __name__)
    with pytest.raises(TypeError, match=r"below the route decorator"):

        @verify_qstash(clock_tolerance=5)
        @blueprint.route("/wrong", methods=["POST"])
        def also_wrong() -> str:
            return "handler ran"


def test_verify_qstash_below_the_route_decorator_still_protects_the_route() -> None:
    app = Flask(__name__)

    @app.post("/right")
    @verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)))
    def right() -> str:
        return "handler ran"

    answer = app.test_client().post("/right", data=b"{}")
    assert (answer.status_code, answer.text) == (401, "401 Unauthorized: missing_signature")


def test_a_view_without_source_is_decorated_as_before() -> None:
    namespace: dict[str, object] = {}
    exec("def view():\n    return 'ok'\n", namespace)  # noqa: S102 (no source file to read)
    view = namespace["view"]
    assert callable(view)
    assert callable(verify_qstash(view))


def test_verify_qstash_imported_under_another_name_above_the_route_is_refused() -> None:
    """The source says ``@vq``: what the name stands for where the view is defined counts."""
    app = Flask(__name__)
    vq = verify_qstash
    with pytest.raises(TypeError, match=r"@vq is above @\.\.\.post\(\.\.\.\) on .*wrong"):

        @vq
        @app.post("/wrong")
        def wrong() -> str:
            return "handler ran"

    blueprint = Blueprint("jobs", __name__)
    with pytest.raises(TypeError, match=r"Put @vq below the route decorator"):

        @vq(clock_tolerance=5)
        @blueprint.post("/wrong")
        def also_wrong() -> str:
            return "handler ran"

    guarded = verify_qstash(dedupe=MemoryStore())  # a decorator made once, named
    with pytest.raises(TypeError, match=r"@guarded is above @\.\.\.route\(\.\.\.\)"):

        @guarded
        @app.route("/wrong-too", methods=["POST"])
        def wrong_too() -> str:
            return "handler ran"


def test_a_view_served_bare_on_one_route_and_verified_on_another_is_accepted() -> None:
    """Registering a function as it is and a verified copy of it elsewhere is not the wrong
    order (no decorator is above a route decorator)."""
    app = Flask(__name__)

    def view() -> str:
        return "handler ran"

    app.add_url_rule("/bare", "bare", view, methods=["POST"])
    verified = verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)))(view)
    app.add_url_rule("/verified", "verified", verified, methods=["POST"])
    client = app.test_client()
    assert client.post("/bare", data=BODY).status_code == 200
    assert client.post("/verified", data=BODY).status_code == 401


def test_the_right_order_beside_other_routes_is_accepted() -> None:
    """A view decorated below its route decorator, in an app with other routes, is protected."""
    app = Flask(__name__)

    @app.post("/other")
    def other() -> str:
        return "other"

    @app.post("/guarded")
    @verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)))
    def guarded() -> str:
        return "handler ran"

    assert app.test_client().post("/guarded", data=BODY).status_code == 401
