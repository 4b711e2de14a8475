"""The official SDK's clients in tests: built by ``qstash_client``, closed after use.

Imported as a top-level module by tests in this folder (pytest puts tests/ on ``sys.path``).
The SDK offers no ``close()``; its connection pool is closed here, so that no test leaks a
socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from qstash import AsyncQStash, QStash
from qstash.message import PublishResponse

from qstash_receiver import QStashConfig
from qstash_receiver.publish import async_qstash_client, qstash_client


@contextmanager
def sdk_client(
    region: str | None = None, *, config: QStashConfig, **options: Any
) -> Iterator[QStash]:
    """``qstash_client(region, config=config, **options)``, closed on exit."""
    client = qstash_client(region, config=config, **options)
    try:
        yield client
    finally:
        client.http._client.close()


@asynccontextmanager
async def async_sdk_client(
    region: str | None = None, *, config: QStashConfig, **options: Any
) -> AsyncIterator[AsyncQStash]:
    """``async_qstash_client(region, config=config, **options)``, closed on exit."""
    client = async_qstash_client(region, config=config, **options)
    try:
        yield client
    finally:
        await client.http._client.aclose()


def message_id(response: object) -> str:
    """The message id of a publish to one URL (the SDK's ``PublishResponse``)."""
    assert isinstance(response, PublishResponse), response
    return response.message_id
