"""The automatic URL check under real servers: own deliveries pass, sibling ones are refused.

The servers of tests/servers/ run on loopback; each gets deliveries signed for its own URL and
for a sibling endpoint of the same account, sent directly and with the headers a proxy in
front of it sets (nginx-style ``X-Forwarded-*`` for Flask under ProxyFix and for Django's
proxy settings; Google's front end for Cloud Functions). The endpoints without ``url=``
accept the sibling's delivery: that is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from limit_servers import US_CURRENT, serve
from qstash_demo.services import Service

from qstash_receiver.testing import signed_headers

BODY = b'{"order_id": 42}'
URL_MISMATCH = (401, "401 Unauthorized: url_mismatch")
GEN1_HOST = "us-central1-demo-project.cloudfunctions.net"
NGINX = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}


def deliver(service: Service, path: str, signed_url: str, **headers: str) -> httpx.Response:
    sent = {**signed_headers(BODY, key=US_CURRENT, url=signed_url, region="US_EAST_1")}
    return httpx.post(service.url + path, content=BODY, headers={**sent, **headers}, timeout=30)


def answer(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.text


@pytest.fixture(scope="module")
def flask(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with serve("gunicorn-flask", tmp_path_factory.mktemp("flask") / "server.log") as service:
        yield service


def test_gunicorn_flask(flask: Service) -> None:
    own = f"{flask.url}/checked/a"
    assert deliver(flask, "/checked/a", own).status_code == 200
    assert answer(deliver(flask, "/checked/b", own)) == URL_MISMATCH
    assert deliver(flask, "/unchecked/b", f"{flask.url}/unchecked/a").status_code == 200
    # Behind nginx: location /api/ { proxy_pass http://app/; } strips the prefix it forwards.
    behind = {**NGINX, "X-Forwarded-Prefix": "/api"}
    public = "https://hooks.example.com/api/checked"
    assert deliver(flask, "/checked/a", f"{public}/a", **behind).status_code == 200
    assert answer(deliver(flask, "/checked/b", f"{public}/a", **behind)) == URL_MISMATCH
    assert answer(deliver(flask, "/checked/a", f"{public}/b", **behind)) == URL_MISMATCH


@pytest.mark.parametrize("server", ["gunicorn-django", "uvicorn-django"])
def test_django(server: str, tmp_path: Path) -> None:
    with serve(server, tmp_path / "server.log") as django:
        own = f"{django.url}/qstash/checked/a/"
        assert deliver(django, "/qstash/checked/a/", own).status_code == 200
        assert answer(deliver(django, "/qstash/checked/b/", own)) == URL_MISMATCH
        sibling = f"{django.url}/qstash/unchecked/a/"
        assert deliver(django, "/qstash/unchecked/b/", sibling).status_code == 200
        # Behind a proxy: SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST are set.
        public = "https://hooks.example.com/qstash/checked"
        assert deliver(django, "/qstash/checked/a/", f"{public}/a/", **NGINX).status_code == 200
        assert answer(deliver(django, "/qstash/checked/b/", f"{public}/a/", **NGINX)) == (
            URL_MISMATCH
        )
        forged_host = {**NGINX, "X-Forwarded-Host": "evil.example.com"}
        elsewhere = "https://evil.example.com/qstash/checked/a/"
        assert deliver(django, "/qstash/checked/a/", elsewhere, **forged_host).status_code == 400


def test_functions_framework_behind_googles_front_end(tmp_path: Path) -> None:
    deployed = {"K_SERVICE": "qstash-limits"}  # as Cloud Functions sets it
    front_end = {"Host": GEN1_HOST, "X-Forwarded-Proto": "https"}
    own, sibling = f"https://{GEN1_HOST}/qstash-limits", f"https://{GEN1_HOST}/other-function"
    with serve("functions-framework", tmp_path / "checked.log", **deployed) as function:
        assert deliver(function, "/", own, **front_end).status_code == 200
        assert answer(deliver(function, "/", sibling, **front_end)) == URL_MISMATCH
        local = f"{function.url}/hooks/a"
        assert deliver(function, "/hooks/a", local).status_code == 200
        assert answer(deliver(function, "/hooks/b", local)) == URL_MISMATCH
    with serve("functions-framework-unchecked", tmp_path / "unchecked.log", **deployed) as plain:
        assert deliver(plain, "/", sibling, **front_end).status_code == 200
