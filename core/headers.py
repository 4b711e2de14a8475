"""A small case-insensitive, multi-valued, read-only header view shared by every adapter."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = ["HeaderInput", "Headers"]

HeaderInput = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


# WSGI environ key -> header name, learned as requests arrive. The two headers PEP 3333
# keeps without the HTTP_ prefix are known; "" marks other CGI keys seen (not headers).
_ENVIRON_NAMES: dict[str, str] = {
    "CONTENT_TYPE": "content-type",
    "CONTENT_LENGTH": "content-length",
}
_ENVIRON_NAMES_MAX = 4096


def _text(value: object) -> str | None:
    # Platforms hand over str; ASGI gives latin-1 bytes. Anything else (None in a malformed
    # Lambda event, numbers in a hand-built dict) is not a header value and is dropped.
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


class Headers(Mapping[str, str]):
    """Read-only headers; lookups ignore case; ``get_all`` sees repeated headers.

    Built from a mapping (values may be lists, as in ALB multi-value events) or from
    ``(name, value)`` pairs (WSGI/ASGI style; ``bytes`` are read as latin-1). Names that are
    not text and values that are neither text nor a list of text are left out, so a malformed
    event cannot make a lookup fail later. A name whose values are all left out is absent.
    """

    __slots__ = ("_values",)

    def __init__(self, source: HeaderInput | None = None, *, _omit: str = "") -> None:
        values: dict[str, list[str]] = {}
        self._values = values
        if source is None:
            return
        if isinstance(source, Headers):
            values.update((k, v) for k, v in source._values.items() if k != _omit)
            return
        if type(source) is dict:
            # The common case (a Lambda event's headers): one text value per text name, no
            # two names equal but for case. Anything else takes the general path below.
            fast = {k.lower(): [v] for k, v in source.items() if type(k) is str and type(v) is str}
            if len(fast) == len(source):
                self._values = fast
                return
        pairs: Iterable[object] = source.items() if isinstance(source, Mapping) else source
        for item in pairs:
            if type(item) is tuple and len(item) == 2:
                name, value = item
                # The common case first: text name, text value.
                if type(name) is str and type(value) is str:
                    key = name.lower()
                    bucket = values.get(key)
                    if bucket is None:
                        values[key] = [value]
                    else:
                        bucket.append(value)
                    continue
            elif not isinstance(item, (tuple, list)) or len(item) != 2:
                continue
            self._add(item[0], item[1])

    def _add(self, name: object, value: object) -> None:
        # Everything but a (str, str) pair: bytes, subclasses, lists, odd values.
        key = _text(name)
        if key is None:
            return
        if isinstance(value, (list, tuple)):
            found = [text for text in map(_text, value) if text is not None]
        else:
            text = _text(value)
            found = [] if text is None else [text]
        if found:
            self._values.setdefault(key.lower(), []).extend(found)

    @classmethod
    def from_environ(cls, environ: Mapping[str, object]) -> Headers:
        """The request headers of a WSGI environ (also Django's ``request.META``).

        ``HTTP_X_TRACE_ID`` becomes ``x-trace-id``; ``CONTENT_TYPE`` and ``CONTENT_LENGTH``
        are headers too. Servers join repeated headers with ``", "`` (PEP 3333), so each name
        has one value here; a duplicated ``Upstash-Signature`` still shows as its comma.
        Reading the environ directly spares the framework's own header object per request.
        """
        view = cls()
        values = view._values
        names = _ENVIRON_NAMES
        for key, value in environ.items():
            name = names.get(key)
            if name is None:
                name = key[5:].replace("_", "-").lower() if key.startswith("HTTP_") else ""
                if len(names) < _ENVIRON_NAMES_MAX:  # bounded: clients choose header names
                    names[key] = name
            if name and isinstance(value, str) and value:
                values[name] = [value]
        return view

    def first(self, name: str) -> str | None:
        """The first value of ``name`` (lower-case), or ``None``: the cheapest lookup."""
        values = self._values.get(name)
        return values[0] if values else None

    @classmethod
    def split(cls, source: HeaderInput, name: str) -> tuple[Headers, list[str]]:
        """A view of ``source`` without header ``name`` (lower-case), and that header's values.

        One pass over ``source``: how the request check sets the signature aside, so that the
        headers it hands to handlers never hold it.
        """
        if isinstance(source, Headers):
            return cls(source, _omit=name), source.get_all(name)
        view = cls(source)
        return view, view._values.pop(name, [])

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in arrival order (empty list when absent)."""
        return list(self._values.get(name.lower(), ()))

    def __getitem__(self, name: str) -> str:
        values = self._values.get(name.lower()) if isinstance(name, str) else None
        if not values:
            raise KeyError(name)
        return values[0] if len(values) == 1 else ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        # Header names only: values may hold signatures or credentials.
        return f"Headers({sorted(self._values)})"
