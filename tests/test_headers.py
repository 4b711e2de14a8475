"""``Headers``: the case-insensitive, multi-valued view every adapter builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


# ASGI hands over (bytes, bytes) pairs: a bulk path decodes them in one step, and anything it
# cannot take whole (repeats, odd items, a NUL) must come out as the general path reads it.

ASGI_PAIRS: list[tuple[bytes, bytes]] = [
    (b"host", b"example.com"),
    (b"upstash-signature", b"e30.e30.sig"),
    (b"X-Trace", b"caf\xe9"),  # latin-1, a capital in the name
]


def test_asgi_byte_pairs_decode_as_latin1_with_lower_case_names() -> None:
    headers = Headers(list(ASGI_PAIRS))
    assert dict(headers) == {
        "host": "example.com",
        "upstash-signature": "e30.e30.sig",
        "x-trace": "café",
    }


@pytest.mark.parametrize(
    ("extra", "name", "values"),
    [
        ([(b"x-trace", b"again")], "x-trace", ["café", "again"]),  # a repeat, other case
        ([(b"via", b"a\x00b")], "via", ["a\x00b"]),  # a NUL inside a value is kept whole
        ([(b"v\x00ia", b"1")], "v\x00ia", ["1"]),  # ...and inside a name
        ([(b"via", "text")], "via", ["text"]),  # bytes and text mixed
        ([(b"via", None), ("via", [b"1", "2"])], "via", ["1", "2"]),  # odd values
        ([b"ab", (b"via",), (b"via", b"1", b"2"), None], "via", []),  # not pairs: skipped
    ],
)
def test_asgi_pairs_the_bulk_path_cannot_take_read_as_the_general_path_does(
    extra: list[object], name: str, values: list[str]
) -> None:
    pairs: Any = [*ASGI_PAIRS, *extra]  # odd items on purpose
    headers = Headers(pairs)
    assert headers.get_all(name) == values
    assert headers["x-trace"].startswith("café")
    assert headers.first("upstash-signature") == "e30.e30.sig"
    _, signatures = Headers.split(pairs, "upstash-signature")
    assert signatures == ["e30.e30.sig"]


@pytest.mark.parametrize(
    "odd",
    [
        (bytearray(b"upstash-signature"), b"t.o.k"),  # bytes-like, not bytes: dropped
        (b"upstash-signature", memoryview(b"t.o.k")),
        {b"upstash-signature": 0, b"t.o.k": 0},  # an iterable of two, not a pair
    ],
)
def test_what_the_general_path_drops_the_bulk_path_drops_too(odd: object) -> None:
    # With or without a repeated header (which sends the pairs down the general path).
    for rest in ([(b"via", b"1")], [(b"via", b"1"), (b"via", b"2")]):
        pairs: Any = [odd, *rest]
        assert Headers.split(pairs, "upstash-signature")[1] == []


def test_a_lookup_by_something_other_than_text_finds_nothing() -> None:
    headers = Headers({"": "v", "a": "1"})
    for key in (None, 1, b"a"):
        assert headers.get(key) is None  # type: ignore[call-overload]
        with pytest.raises(KeyError):
            headers[key]  # type: ignore[index]


def test_split_takes_the_name_in_any_case() -> None:
    for source in (Headers({"Upstash-Signature": "sig"}), {"Upstash-Signature": "sig"}):
        view, values = Headers.split(source, "Upstash-Signature")
        assert (values, dict(view)) == (["sig"], {})
