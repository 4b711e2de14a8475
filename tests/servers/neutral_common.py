"""What every test server of the framework-neutral adapters shares (not a test module).

Each server's verified routes do what the delivery's JSON body asks (``{"do": ...}``) and answer
what they saw; every run logs ``handled <message_id>``, and a wrapper outside the adapter logs
``read <message_id> <bytes> <last>``: how much of the body the adapter took from the server,
and how much of it came with the last read. Keys come
from the environment (single-region or migration mode, as the test starts the server).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from qstash_receiver import NonRetryableError, RetryLater, VerifiedMessage
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.integration import OptionArgs

#: The body limit of the verified routes (the binary delivery is under it).
LIMIT = 256 * 1024
#: Seconds a "slow" delivery takes, so that concurrent copies overlap.
SLOW = 0.3
#: The options of the verified routes (keys from the environment); /once adds the guard.
CHECKED: OptionArgs = {"max_body_bytes": LIMIT}
#: The options of the guarded routes: one store per server process, shared by its threads.
GUARD: OptionArgs = {**CHECKED, "dedupe": MemoryStore()}
#: The prefixes: /qstash verified, /once verified and guarded, anything else passes through.
VERIFIED, GUARDED = ["/qstash"], ["/once"]

logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
log = logging.getLogger("neutral_server")
log.setLevel(logging.INFO)


def action(message: VerifiedMessage) -> str:
    """What the delivery asks for (``"ok"`` for a body that is not such JSON)."""
    log.info("handled %s", message.message_id)
    try:
        asked = json.loads(message.body)
    except ValueError:
        return "ok"
    do = asked.get("do", "ok") if isinstance(asked, dict) else "ok"
    if do == "nonretryable":
        raise NonRetryableError("order 17 was deleted")
    if do == "retry_later":
        raise RetryLater(30)
    return str(do)


def seen(message: VerifiedMessage, raw: bytes, found: VerifiedMessage) -> bytes:
    """A verified route's answer: what it saw, ``raw`` being the body it read the framework's
    own way and ``found`` the message its adapter's ``get_message`` gave."""
    return json.dumps(
        {
            "message_id": message.message_id,
            "key_region": message.key_region,
            "key_used": message.key_used,
            "length": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "same_body": raw == message.body,
            "in_place": found is message,
        }
    ).encode()


def _message_id(pairs: Iterable[tuple[str, str]]) -> str:
    return next((v for k, v in pairs if k.lower() == "upstash-message-id"), "-")


class _Counting:
    """A ``wsgi.input`` that counts what is read from it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.count, self.last = stream, 0, 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.count, self.last = self.count + len(data), len(data) or self.last
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self.stream.readline(size)
        self.count, self.last = self.count + len(data), len(data) or self.last
        return data


def counting_wsgi(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Log how many body bytes the request's handling read from the server's ``wsgi.input``."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        counted = environ["wsgi.input"] = _Counting(environ["wsgi.input"])
        result = app(environ, start_response)
        try:
            return list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            headers = [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k[:5] == "HTTP_"]
            log.info("read %s %d %d", _message_id(headers), counted.count, counted.last)

    return wrapper


def counting_asgi(app: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Log how many body bytes the request's handling took from the server's ``receive``."""

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        count = last = 0

        async def counting() -> Any:
            nonlocal count, last
            message = await receive()
            size = len(message.get("body", b""))
            count, last = count + size, size or last
            return message

        try:
            await app(scope, counting, send)
        finally:
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            log.info("read %s %d %d", _message_id(headers), count, last)
        return None

    return wrapper
