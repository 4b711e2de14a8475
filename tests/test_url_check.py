"""The automatic URL check of the Flask and Cloud Functions adapters, through their test clients.

A delivery is signed for one endpoint (``sub``) and replayed to a sibling endpoint of the same
account: ``url=request_url`` refuses it ``401 url_mismatch``, the default (no URL check, as in
the official SDKs) accepts it. Behind a proxy, the headers are those the proxy sets (nginx's
``X-Forwarded-*`` under ProxyFix; Google's front end for Cloud Functions).
"""

from __future__ import annotations

from pathlib import Path

import functions_framework
import pytest
from flask import Flask, Request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder, TestResponse

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters import gcf
from qstash_receiver.adapters.flask import (
    current_message,
    request_target,
    request_url,
    verify_qstash,
)
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers
from qstash_receiver.urlcheck import URL_CHECK_DOC, doctor_line, url_check_off

RECEIVER = Receiver(config=load_config(DEMO_ENV))
US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
BODY = b'{"order_id": 42}'
#: What nginx sends for ``location /api/ { proxy_pass http://app/; ... }`` with the usual
#: proxy_set_header lines (X-Forwarded-For/-Proto/-Host, and -Prefix for the stripped /api).
NGINX = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "hooks.example.com",
    "X-Forwarded-Prefix": "/api",
}
PUBLIC = "https://hooks.example.com/api"


def signed_for(url: str) -> dict[str, str]:
    return signed_headers(BODY, key=US_CURRENT, url=url, region="US_EAST_1")


def make_app() -> Flask:
    app = Flask(__name__)

    @app.post("/checked/<name>")
    @verify_qstash(receiver=RECEIVER, url=request_url)
    def checked(name: str) -> dict[str, object]:
        return {"name": name, "url": current_message().url}

    @app.post("/unchecked/<name>")
    @verify_qstash(receiver=RECEIVER)
    def unchecked(name: str) -> dict[str, object]:
        return {"name": name}

    return app


def post(app: Flask, path: str, headers: dict[str, str]) -> TestResponse:
    return app.test_client().post(path, data=BODY, headers=headers)


def refused(response: TestResponse) -> bool:
    return (response.status_code, response.get_data(as_text=True)) == (
        401,
        "401 Unauthorized: url_mismatch",
    )


def proxied() -> Flask:
    app = make_app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    return app


def test_flask_direct_sibling_refused_own_accepted_default_accepts() -> None:
    app = make_app()
    own = post(app, "/checked/a", signed_for("http://localhost/checked/a"))
    assert (own.status_code, own.get_json()["url"]) == (200, "http://localhost/checked/a")
    assert refused(post(app, "/checked/b", signed_for("http://localhost/checked/a")))
    sibling = post(app, "/unchecked/b", signed_for("http://localhost/unchecked/a"))
    assert sibling.status_code == 200  # the default: no URL check, as in the TS SDK


def test_flask_behind_nginx_with_proxy_fix() -> None:
    app = proxied()
    own = post(app, "/checked/a", {**signed_for(f"{PUBLIC}/checked/a"), **NGINX})
    assert (own.status_code, own.get_json()["url"]) == (200, f"{PUBLIC}/checked/a")
    for signed_url in (
        f"{PUBLIC}/checked/b",  # a sibling path
        "https://other.example.com/api/checked/a",  # the same path on another host
        "http://hooks.example.com/api/checked/a",  # plain http
        "https://hooks.example.com/checked/a",  # without the proxy's prefix
    ):
        assert refused(post(app, "/checked/a", {**signed_for(signed_url), **NGINX})), signed_url
    # Direct requests (no X-Forwarded-*) to the same app are checked as they were made.
    assert post(app, "/checked/a", signed_for("http://localhost/checked/a")).status_code == 200


def test_flask_behind_a_proxy_without_proxy_fix_refuses_genuine_deliveries() -> None:
    # Why the check is not on by default: the app sees http://localhost/checked/a.
    app = make_app()
    assert refused(post(app, "/checked/a", {**signed_for(f"{PUBLIC}/checked/a"), **NGINX}))
    assert (
        post(app, "/unchecked/a", {**signed_for(f"{PUBLIC}/unchecked/a"), **NGINX}).status_code
        == 200
    )


def test_flask_trusted_hosts_refuse_other_hosts_before_the_check() -> None:
    app = make_app()
    app.config["TRUSTED_HOSTS"] = ["hooks.example.com"]
    own = signed_for("http://hooks.example.com/checked/a")
    assert post(app, "/checked/a", {**own, "Host": "hooks.example.com"}).status_code == 200
    forged_host = {**signed_for("http://evil.example.com/checked/a"), "Host": "evil.example.com"}
    assert post(app, "/checked/a", forged_host).status_code == 400


def environ_of(path: str, *, raw: bool = True, script_name: str = "", **extra: str) -> Request:
    environ = EnvironBuilder(path, base_url="http://127.0.0.1:8000").get_environ()
    environ["SCRIPT_NAME"] = script_name
    if script_name:  # a server mounting the app at script_name still passes the whole target
        environ["RAW_URI"] = environ["REQUEST_URI"] = script_name + environ["RAW_URI"]
    if not raw:
        del environ["RAW_URI"], environ["REQUEST_URI"]
    environ.update(extra)
    return Request(environ)


@pytest.mark.parametrize("raw", [True, False])
def test_request_target_keeps_the_path_as_sent(raw: bool) -> None:
    plain = environ_of("/a/b?x=1&y=2", raw=raw)
    assert request_target(plain) == "/a/b?x=1&y=2"
    mounted = environ_of("/hook?x=1", raw=raw, script_name="/app")
    assert request_target(mounted) == "/app/hook?x=1"
    assert request_url(mounted) == "http://127.0.0.1:8000/app/hook?x=1"
    encoded = request_target(environ_of("/caf%C3%A9/a%20b?q=%2F&r=%C3%A9", raw=raw))
    assert encoded == "/caf%C3%A9/a%20b?q=%2F&r=%C3%A9"


def test_request_target_with_a_raw_target_keeps_encodings_a_rebuild_cannot() -> None:
    # %2F and a lower-case escape arrive decoded in PATH_INFO; only the raw target keeps them.
    assert request_target(environ_of("/a%2Fb/%c3%a9")) == "/a%2Fb/%c3%a9"
    assert request_target(environ_of("/a%2Fb/%c3%a9", raw=False)) == "/a/b/%C3%A9"


SOURCE = Path(__file__).with_name("test_gcf_functions.py")
GEN1 = "us-central1-demo-project.cloudfunctions.net"
RUN = "qstash-handler-123456789.us-central1.run.app"


@pytest.fixture(scope="module")
def functions() -> dict[str, Flask]:
    create = functions_framework.create_app
    return {t: create(t, str(SOURCE)) for t in ("deployed", "plain")}  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("host", "own", "sibling"),
    [
        # 1st gen: another function of the same project and region, on the same host.
        (GEN1, f"https://{GEN1}/qstash-handler", f"https://{GEN1}/other-function"),
        # 2nd gen / Cloud Run: another service; Google routes by host, so the replay arrives
        # with this service's host.
        (RUN, f"https://{RUN}/", "https://other-service-123456789.us-central1.run.app/"),
    ],
)
def test_cloud_functions_sibling_refused_behind_googles_front_end(
    functions: dict[str, Flask], host: str, own: str, sibling: str
) -> None:
    front_end = {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    deployed = functions["deployed"]  # url=PublicUrl(...) with K_SERVICE=qstash-handler
    assert post(deployed, "/", {**signed_for(own), **front_end}).status_code == 200
    assert refused(post(deployed, "/", {**signed_for(sibling), **front_end}))
    plain = post(functions["plain"], "/", {**signed_for(sibling), **front_end})
    assert plain.status_code == 200  # the default accepts it


def test_cloud_functions_request_url_is_public_url() -> None:
    assert gcf.request_url is gcf.public_url


def test_the_shared_wording() -> None:
    assert url_check_off().startswith("The signed URL is not checked unless an endpoint passes")
    assert url_check_off(1, 1).startswith("1 QStash view does not check the signed URL")
    assert url_check_off(2, 5).startswith("2 of 5 QStash views do not check the signed URL")
    assert url_check_off(1, 3).startswith("1 of 3 QStash views does not check")
    label, value = doctor_line()
    assert label == "signed URL (sub) check"
    assert URL_CHECK_DOC in value
    assert (Path(__file__).parents[1] / URL_CHECK_DOC).is_file()
