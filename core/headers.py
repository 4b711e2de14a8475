"""A small case-insensitive, multi-valued, read-only header view shared by every adapter."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "HeaderInput",
    "Headers",
    "decimal",
]

HeaderInput = (
    Mapping[str, str]
    | Mapping[str, Sequence[str]]
    | Iterable[tuple[str, str]]
    | Iterable[tuple[bytes, bytes]]  # ASGI, read as latin-1
)


# WSGI environ key -> header name, learned as requests arrive. The two headers PEP 3333
# keeps without the HTTP_ prefix are known; "" marks other CGI keys seen (not headers).
_ENVIRON_NAMES: dict[str, str] = {
    "CONTENT_TYPE": "content-type",
    "CONTENT_LENGTH": "content-length",
}
_ENVIRON_NAMES_MAX = 4096
_lower = str.lower  # raises TypeError for a name that is not text
_PAIR_TYPES = frozenset({tuple, list})
_BYTES = frozenset({bytes})


def _text(value: object) -> str | None:
    # Platforms hand over str; ASGI gives latin-1 bytes. Anything else (None in a malformed
    # Lambda event, numbers in a hand-built dict) is not a header value and is dropped.
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


def _byte_pairs(pairs: list[object]) -> dict[str, str] | None:
    # (bytes, bytes) pairs with no name twice, or None. Every name, then every value, is
    # joined around NUL, decoded once and split: NUL is in no header a server passes on, and a
    # part holding one would yield more parts than pairs, so that case falls back as well.
    # The type checks keep what it takes exactly what the general path takes the same way.
    if not _PAIR_TYPES.issuperset(map(type, pairs)):
        return None
    try:
        names, values = zip(*pairs, strict=True)
    except ValueError:  # not all pairs (or none at all)
        return None
    if not (_BYTES.issuperset(map(type, names)) and _BYTES.issuperset(map(type, values))):
        return None
    keys = b"\0".join(names).decode("latin-1").lower().split("\0")
    texts = b"\0".join(values).decode("latin-1").split("\0")
    if not len(keys) == len(texts) == len(pairs):
        return None
    first = dict(zip(keys, texts, strict=True))
    return first if len(first) == len(pairs) else None


def decimal(value: object) -> int | None:
    """A header's non-negative decimal number (``Content-Length``, ``Upstash-Retried``), else
    ``None``: ASCII digits only, as HTTP writes them (no sign, ``_``, spaces or other digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


class Headers(Mapping[str, str]):
    """Read-only headers; lookups ignore case; ``get_all`` sees repeated headers.

    Built from a mapping (values may be lists, as in ALB multi-value events) or from
    ``(name, value)`` pairs (WSGI/ASGI style; ``bytes`` are read as latin-1). Names that are
    not text and values that are neither text nor a list of text are left out, so a malformed
    event cannot make a lookup fail later. A name whose values are all left out is absent.
    """

    # _first: the first value of every name (lower-case); _more: every value, in arrival
    # order, of the names seen more than once. Most requests repeat no header, so lookups and
    # building from a plain dict or plain pairs stay single dict operations.
    __slots__ = ("_first", "_more")

    def __init__(self, source: HeaderInput | None = None) -> None:
        self._first: dict[str, str] = {}
        self._more: dict[str, list[str]] = {}
        if source is None:
            return
        if type(source) is dict:
            # The common case (a Lambda event's headers): text names and values, no name
            # twice in two cases. Anything else takes the general path below.
            try:
                plain = {_lower(k): v for k, v in source.items() if type(v) is str}
            except TypeError:  # a name that is not text
                plain = {}
            if len(plain) == len(source):
                self._first = plain
                return
        elif type(source) is list:
            # ASGI's latin-1 byte pairs, decoded in one step rather than one decode per item.
            decoded = _byte_pairs(source)
            if decoded is not None:
                self._first = decoded
                return
        elif isinstance(source, Headers):  # a copy
            self._first = dict(source._first)
            self._more = {k: list(v) for k, v in source._more.items()}
            return
        first, more = self._first, self._more
        pairs: Iterable[object] = source.items() if isinstance(source, Mapping) else source
        for item in pairs:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                continue
            name, value = item
            # The common cases inline: text pairs, and ASGI's latin-1 byte pairs.
            if type(name) is str and type(value) is str:
                key = name.lower()
            elif type(name) is bytes and type(value) is bytes:
                key, value = name.decode("latin-1").lower(), value.decode("latin-1")
            else:
                self._add(name, value)
                continue
            seen = first.get(key)
            if seen is None:
                first[key] = value
            else:
                more.setdefault(key, [seen]).append(value)

    def _add(self, name: object, value: object) -> None:
        # One header (or one name with a list of values): any types, repeats merged.
        key = _text(name)
        if key is None:
            return
        if isinstance(value, (list, tuple)):
            found = [text for text in map(_text, value) if text is not None]
        else:
            text = _text(value)
            found = [] if text is None else [text]
        if not found:
            return
        key = key.lower()
        first = self._first.get(key)
        if first is None:
            self._first[key] = found[0]
            if len(found) > 1:
                self._more[key] = found
        else:
            self._more.setdefault(key, [first]).extend(found)

    @classmethod
    def from_environ(cls, environ: Mapping[str, object]) -> Headers:
        """The request headers of a WSGI environ (also Django's ``request.META``).

        ``HTTP_X_TRACE_ID`` becomes ``x-trace-id``; ``CONTENT_TYPE`` and ``CONTENT_LENGTH``
        are headers too. Servers join repeated headers with ``", "`` (PEP 3333), so each name
        has one value here; a duplicated ``Upstash-Signature`` still shows as its comma.
        Reading the environ directly spares the framework's own header object per request.
        """
        view = cls()
        first = view._first
        names = _ENVIRON_NAMES
        for key, value in environ.items():
            name = names.get(key)
            if name is None:
                name = key[5:].replace("_", "-").lower() if key.startswith("HTTP_") else ""
                if len(names) < _ENVIRON_NAMES_MAX:  # bounded: clients choose header names
                    names[key] = name
            if name and isinstance(value, str) and value:
                first[name] = value
        return view

    def first(self, name: str) -> str | None:
        """The first value of ``name`` (lower-case), or ``None``: the cheapest lookup."""
        return self._first.get(name)

    @classmethod
    def split(cls, source: HeaderInput, name: str) -> tuple[Headers, list[str]]:
        """A view of ``source`` without header ``name`` (any case), and that header's values.

        One pass over ``source``: how the request check sets the signature aside, so that the
        headers it hands to handlers never hold it.
        """
        view = cls(source)  # a copy when source is a Headers: the caller's keeps the header
        key = name.lower()
        first = view._first.pop(key, None)
        more = view._more.pop(key, None)
        return view, more if more is not None else [] if first is None else [first]

    def repeated(self, name: str) -> bool:
        """Whether ``name`` (lower-case) came more than once (as separate headers)."""
        return name in self._more

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in arrival order (empty list when absent)."""
        key = name.lower()
        more = self._more.get(key)
        if more is not None:
            return list(more)
        first = self._first.get(key)
        return [] if first is None else [first]

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        key = name.lower()
        first = self._first.get(key)
        if first is None:
            raise KeyError(name)
        more = self._more.get(key) if self._more else None
        return first if more is None else ", ".join(more)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __repr__(self) -> str:
        # Header names only: values may hold signatures or credentials.
        return f"Headers({sorted(self._first)})"
