"""``url=request_url`` on Django views, and the system check that says when it is off.

A delivery signed for one endpoint and replayed to a sibling endpoint of the same account is
refused ``401 url_mismatch`` with the check, and accepted by the default (as in the official
SDKs). Behind a proxy, the URL is what Django's own settings make of the proxy's headers
(``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from django.core.checks import Info, run_checks
from django.test import AsyncClient, Client, override_settings

from qstash_receiver.adapters.django import request_url, verify_qstash
from qstash_receiver.adapters.django.checks import (
    URL_CHECK_OFF_ID,
    check_url_checks,
    url_check_messages,
)
from qstash_receiver.adapters.django.urlcheck import UrlChecks, url_checks
from qstash_receiver.testing import DEMO_KEYS, signed_headers

US_CURRENT = DEMO_KEYS["US_EAST_1"][0]
BODY = b'{"order_id": 42}'
KINDS = ("sync-function", "async-function", "sync-class", "async-class")
#: Settings of a deployment behind a TLS-terminating proxy (nginx, a load balancer).
BEHIND_PROXY = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "USE_X_FORWARDED_HOST": True,
    "ALLOWED_HOSTS": ["testserver", "hooks.example.com"],
}
#: What such a proxy sends (nginx: proxy_set_header X-Forwarded-Proto $scheme; ... $host).
PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "hooks.example.com",
    "X-Forwarded-For": "203.0.113.7",
}


@pytest.fixture(autouse=True)
def _urlconf() -> Iterator[None]:
    with override_settings(ROOT_URLCONF="django_url_check_urls"):
        yield


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes


def deliver(kind: str, name: str, signed_url: str, headers: dict[str, str] | None = None) -> Answer:
    sent = {**signed_headers(BODY, key=US_CURRENT, url=signed_url, region="US_EAST_1")}
    sent.update(headers or {})
    path = f"/hooks/{kind}/{name}/"
    if kind.startswith("async"):

        async def send() -> Answer:
            client = AsyncClient(enforce_csrf_checks=True)
            response = await client.post(path, BODY, "application/json", headers=sent)
            return Answer(response.status_code, response.content)

        return async_to_sync(send)()
    response = Client(enforce_csrf_checks=True).post(path, BODY, "application/json", headers=sent)
    return Answer(response.status_code, response.content)


def refused(response: Answer) -> bool:
    return (response.status_code, response.content) == (401, b"401 Unauthorized: url_mismatch")


@pytest.mark.parametrize("kind", KINDS)
def test_direct_sibling_refused_own_accepted(kind: str) -> None:
    own = deliver(kind, "a", f"http://testserver/hooks/{kind}/a/")
    assert own.status_code == 200
    assert refused(deliver(kind, "b", f"http://testserver/hooks/{kind}/a/"))


def test_the_default_accepts_a_sibling_delivery() -> None:
    sibling = deliver("unchecked", "b", "http://testserver/hooks/unchecked/a/")
    assert sibling.status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_behind_a_proxy_with_djangos_proxy_settings(kind: str) -> None:
    public = f"https://hooks.example.com/hooks/{kind}"
    with override_settings(**BEHIND_PROXY):
        assert deliver(kind, "a", f"{public}/a/", PROXY_HEADERS).status_code == 200
        for signed_url in (
            f"{public}/b/",  # a sibling path
            f"http://hooks.example.com/hooks/{kind}/a/",  # plain http
            f"https://other.example.com/hooks/{kind}/a/",  # another host
        ):
            assert refused(deliver(kind, "a", signed_url, PROXY_HEADERS)), signed_url


def test_a_forwarded_host_outside_allowed_hosts_is_djangos_400() -> None:
    elsewhere = {**PROXY_HEADERS, "X-Forwarded-Host": "evil.example.com"}
    with override_settings(**BEHIND_PROXY):
        response = deliver("sync-function", "a", "https://evil.example.com/hooks/x/", elsewhere)
    assert response.status_code == 400


def test_without_the_proxy_settings_genuine_deliveries_behind_a_proxy_are_refused() -> None:
    # Why the check is not on by default: Django sees http://testserver/...
    public = "https://hooks.example.com/hooks/sync-function/a/"
    assert refused(deliver("sync-function", "a", public, PROXY_HEADERS))
    assert deliver("unchecked", "a", public, PROXY_HEADERS).status_code == 200


def test_the_check_counts_views_as_they_are_built() -> None:
    before = url_checks()
    verify_qstash(lambda request: None)
    verify_qstash(url=request_url)(lambda request: None)
    verify_qstash(url="https://hooks.example.com/x")(lambda request: None)
    after = url_checks()
    assert (after.unchecked - before.unchecked, after.checked - before.checked) == (1, 2)


def test_i001_says_how_many_views_do_not_check_the_url() -> None:
    found = [m for m in run_checks(tags=["qstash_receiver"]) if m.id == URL_CHECK_OFF_ID]
    counts = url_checks()  # after: the check imported the URLconf, and so its views
    assert found == check_url_checks()
    (message,) = found
    assert isinstance(message, Info)
    total = counts.checked + counts.unchecked
    assert message.msg.startswith(
        f"{counts.unchecked} of {total} QStash views do not check the signed URL (no url=)"
    )
    assert "request_url" in (message.hint or "")
    assert "SILENCED_SYSTEM_CHECKS" in (message.hint or "")
    with override_settings(SILENCED_SYSTEM_CHECKS=[URL_CHECK_OFF_ID]):
        assert message.is_silenced()  # what `manage.py check` then leaves out


def test_no_info_when_every_view_checks_the_url() -> None:
    assert url_check_messages(UrlChecks(checked=3, unchecked=0)) == []
    (one,) = url_check_messages(UrlChecks(checked=0, unchecked=1))
    assert one.msg.startswith("1 QStash view does not check the signed URL")
