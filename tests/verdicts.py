"""The verdict the lifecycle gives one request: its message, or the answer an adapter sends.

What every adapter does first (``Endpoint.verify``), without a platform around it.
"""

from __future__ import annotations

from qstash_receiver import VerifiedMessage
from qstash_receiver.headers import HeaderInput
from qstash_receiver.integration import (
    DEFAULT_MAX_BODY_BYTES,
    Answer,
    Endpoint,
    Options,
    ReceiverFactory,
)


def check_request(
    receiver: ReceiverFactory,
    headers: HeaderInput,
    body: object,
    *,
    url: str | None = None,
    clock_tolerance: float = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> VerifiedMessage | Answer:
    """``Endpoint.verify`` for one request, with these options (validated as an adapter does)."""
    options = Options(url=url, clock_tolerance=clock_tolerance, max_body_bytes=max_body_bytes)
    return Endpoint(options, receiver).verify(headers, body)
