"""A string wrapper that never shows its value in ``repr``/``str``/logs."""

from __future__ import annotations

__all__ = ["Secret", "mask"]


def mask(value: str) -> str:
    """A display form that keeps at most the 4-character prefix (``sig_``) and the length."""
    prefix = value[:4] if len(value) >= 16 else ""
    return f"{prefix}****({len(value)} chars)"


class Secret:
    """Holds a key or token. ``str()`` and ``repr()`` are masked; use `reveal()`."""

    __slots__ = ("_encoded", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._encoded = value.encode("utf-8")

    def reveal(self) -> str:
        """The plain value. Only for code that must send or use it."""
        return self._value

    @property
    def encoded(self) -> bytes:
        """The UTF-8 bytes used as HMAC key."""
        return self._encoded

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
