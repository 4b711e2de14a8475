"""``Headers``: the case-insensitive, multi-valued view every adapter builds."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from qstash_receiver.integration import Headers


def test_lookup_ignores_case() -> None:
    headers = Headers({"Upstash-Region": "US-EAST-1"})
    assert headers["upstash-region"] == "US-EAST-1"
    assert headers["UPSTASH-REGION"] == "US-EAST-1"
    assert headers.get("Upstash-region") == "US-EAST-1"
    assert "uPsTaSh-ReGiOn" in headers


def test_names_are_lower_cased_when_iterating() -> None:
    headers = Headers([("Content-Type", "a"), ("X-Custom", "b")])
    assert list(headers) == ["content-type", "x-custom"]
    assert dict(headers) == {"content-type": "a", "x-custom": "b"}
    assert len(headers) == 2


def test_repeated_headers_from_pairs() -> None:
    headers = Headers([("Via", "1"), ("via", "2"), ("VIA", "3")])
    assert headers.get_all("via") == ["1", "2", "3"]
    assert headers["via"] == "1, 2, 3"
    assert len(headers) == 1


def test_multi_value_mapping() -> None:
    headers = Headers({"Via": ["1", "2"], "Host": "h"})
    assert headers.get_all("VIA") == ["1", "2"]
    assert headers["host"] == "h"


def test_mapping_with_different_cases_merges() -> None:
    headers = Headers({"X-A": "1", "x-a": "2"})
    assert headers.get_all("x-a") == ["1", "2"]


def test_absent_header() -> None:
    headers = Headers({"A": "1"})
    assert headers.get_all("b") == []
    assert headers.get("b") is None
    with pytest.raises(KeyError):
        headers["b"]


def test_empty_value_list_counts_as_absent() -> None:
    headers = Headers({"A": []})
    assert headers.get("a") is None
    assert headers.get_all("a") == []


def test_empty_and_none_sources() -> None:
    assert len(Headers()) == 0
    assert len(Headers(None)) == 0
    assert len(Headers({})) == 0
    assert len(Headers([])) == 0


def test_get_all_returns_a_copy() -> None:
    headers = Headers({"A": ["1"]})
    headers.get_all("a").append("2")
    assert headers.get_all("a") == ["1"]


def test_is_a_read_only_mapping() -> None:
    headers = Headers({"A": "1"})
    assert isinstance(headers, Mapping)
    assert not hasattr(headers, "__setitem__")


def test_repr_shows_names_only() -> None:
    headers = Headers({"Upstash-Signature": "eyJhbGciOi.secret.value", "Host": "example.com"})
    assert repr(headers) == "Headers(['host', 'upstash-signature'])"
    assert "secret" not in str(headers)


def test_from_environ_reads_http_and_cgi_keys_only() -> None:
    environ = {
        "HTTP_UPSTASH_SIGNATURE": "a.b.c",
        "HTTP_X_TRACE_ID": "t-1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "12",
        "REQUEST_METHOD": "POST",
        "wsgi.input": object(),
        "HTTP_EMPTY": "",
        "HTTP_NOT_TEXT": 5,
    }
    headers = Headers.from_environ(environ)
    assert dict(headers) == {
        "upstash-signature": "a.b.c",
        "x-trace-id": "t-1",
        "content-type": "application/json",
        "content-length": "12",
    }
    assert headers.first("x-trace-id") == "t-1"
    assert headers.first("absent") is None
    # The same keys again (names are learned once) give the same view.
    assert dict(Headers.from_environ(environ)) == dict(headers)


def test_from_environ_keeps_a_joined_duplicate_signature_visible() -> None:
    headers = Headers.from_environ({"HTTP_UPSTASH_SIGNATURE": "a.b.c, d.e.f"})
    assert headers.get_all("upstash-signature") == ["a.b.c, d.e.f"]
