"""A small case-insensitive, multi-valued header view shared by every adapter."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = ["HeaderInput", "Headers"]

HeaderInput = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


class Headers(Mapping[str, str]):
    """Read-only headers; lookups ignore case; ``get_all`` sees repeated headers.

    Built from a mapping (values may be lists, as in ALB multi-value events) or from
    ``(name, value)`` pairs (WSGI/ASGI style).
    """

    __slots__ = ("_values",)

    def __init__(self, source: HeaderInput | None = None) -> None:
        self._values: dict[str, list[str]] = {}
        if source is None:
            return
        items: Iterable[tuple[str, str | Sequence[str]]]
        items = source.items() if isinstance(source, Mapping) else source
        for name, value in items:
            bucket = self._values.setdefault(name.lower(), [])
            if isinstance(value, str):
                bucket.append(value)
            else:
                bucket.extend(str(v) for v in value)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in arrival order (empty list when absent)."""
        return list(self._values.get(name.lower(), ()))

    def __getitem__(self, name: str) -> str:
        values = self._values.get(name.lower())
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        # Header names only: values may hold signatures or credentials.
        return f"Headers({sorted(self._values)})"
