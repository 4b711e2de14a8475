"""Publish messages through QStash's publish API (needs the ``publish`` extra: httpx).

Kept out of ``qstash_receiver/__init__`` so that receiving never imports httpx::

    from qstash_receiver import load_config
    from qstash_receiver.publish import Publisher

    with Publisher(load_config().outgoing) as publisher:
        message_id = publisher.publish_json("https://example.com/api/qstash", {"hello": "world"})
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import httpx

if TYPE_CHECKING:
    from typing_extensions import Unpack

from .config import Outgoing
from .errors import ConfigError, QStashError
from .names import HTTP_METHODS

__all__ = ["AsyncPublisher", "PublishError", "PublishOptions", "Publisher"]

logger = logging.getLogger("qstash_receiver.publish")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_ERROR_TEXT_LIMIT = 300
# Any run of at least this many characters that also occurs in the token (ignoring ASCII case)
# is masked: a shorter one is no usable part of a token of hundreds of characters, and nearly
# every English word is shorter than the runs a token shares with it by chance.
_TOKEN_FRAGMENT = 6
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class PublishOptions(TypedDict, total=False):
    """The ``Upstash-*`` publish settings accepted by every publish method.

    ``headers`` are forwarded to the destination (sent as ``Upstash-Forward-<Name>``);
    ``delay`` is seconds (int) or a QStash duration such as ``"10s"`` or ``"1m"``.
    """

    content_type: str
    method: Method
    headers: Mapping[str, str]
    delay: int | str
    retries: int
    deduplication_id: str
    content_based_deduplication: bool
    callback: str


class PublishError(QStashError):
    """QStash refused a publish, or could not be reached.

    Attributes:
        status: the HTTP status QStash answered with (``None`` when unreachable).
        error: QStash's error text (its ``error`` field when the answer is JSON), at most
            300 characters, with any part of the token it echoes masked as ``[token]``.
    """

    def __init__(self, status: int | None, error: str) -> None:
        what = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"QStash publish failed ({what}): {error}")
        self.status = status
        self.error = error


def _request_parts(
    outgoing: Outgoing, destination: str, options: PublishOptions
) -> tuple[str, dict[str, str]]:
    unknown = set(options) - set(PublishOptions.__annotations__)
    if unknown:
        raise TypeError(f"unknown publish options: {sorted(unknown)}")
    if outgoing.token is None:
        raise ConfigError("no QStash token configured: set QSTASH_TOKEN (or the region's token)")
    if not destination.startswith(("http://", "https://")):
        raise ValueError("destination must be an absolute http(s) URL")
    headers = {"Authorization": f"Bearer {outgoing.token.reveal()}"}
    if "content_type" in options:
        headers["Content-Type"] = options["content_type"]
    if "method" in options:
        if options["method"] not in HTTP_METHODS:
            raise ValueError(f"method must be one of {sorted(HTTP_METHODS)}")
        headers["Upstash-Method"] = options["method"]
    for name, value in options.get("headers", {}).items():
        forwarded = (
            name if name.lower().startswith("upstash-forward-") else f"Upstash-Forward-{name}"
        )
        headers[forwarded] = value
    if "delay" in options:
        delay = options["delay"]
        headers["Upstash-Delay"] = f"{delay}s" if isinstance(delay, int) else delay
    if "retries" in options:
        headers["Upstash-Retries"] = str(options["retries"])
    if "deduplication_id" in options:
        headers["Upstash-Deduplication-Id"] = options["deduplication_id"]
    if "content_based_deduplication" in options:
        flag = options["content_based_deduplication"]
        headers["Upstash-Content-Based-Deduplication"] = "true" if flag else "false"
    if "callback" in options:
        headers["Upstash-Callback"] = options["callback"]
    # QStash takes the destination verbatim after /publish/, as the official SDKs send it.
    return f"{outgoing.url}/v2/publish/{destination}", headers


def _json_options(options: PublishOptions) -> PublishOptions:
    merged = options.copy()
    merged.setdefault("content_type", "application/json")
    return merged


def _redact(text: str, outgoing: Outgoing) -> str:
    """``text`` cut to its bounded excerpt, with every part of the token in it masked.

    QStash's error text may echo what it was sent: whole, cut short, re-cased or in pieces.
    Every window of ``_TOKEN_FRAGMENT`` characters that occurs in the token (ASCII case
    ignored) is replaced, so no fragment of that length or longer reaches the message.
    """
    excerpt = text[:_ERROR_TEXT_LIMIT]
    token = outgoing.token.reveal().translate(_ASCII_LOWER) if outgoing.token else ""
    if not token:
        return excerpt
    size = min(_TOKEN_FRAGMENT, len(token))
    fragments = {token[i : i + size] for i in range(len(token) - size + 1)}
    folded = excerpt.translate(_ASCII_LOWER)  # same length: ASCII letters only
    masked = [False] * len(excerpt)
    for start in range(len(excerpt) - size + 1):
        if folded[start : start + size] in fragments:
            masked[start : start + size] = [True] * size
    pieces: list[str] = []
    for index, char in enumerate(excerpt):
        if not masked[index]:
            pieces.append(char)
        elif index == 0 or not masked[index - 1]:
            pieces.append("[token]")
    return "".join(pieces)


def _message_id(response: httpx.Response, outgoing: Outgoing) -> str:
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    if not response.is_success:
        error = payload.get("error") if isinstance(payload, dict) else None
        text = str(error) if error else (response.text or response.reason_phrase)
        raise PublishError(response.status_code, _redact(text, outgoing))
    if not isinstance(payload, dict) or not isinstance(payload.get("messageId"), str):
        raise PublishError(response.status_code, "the answer has no messageId")
    message_id: str = payload["messageId"]
    logger.debug("published %s via %s", message_id, outgoing.url)
    return message_id


def _unreachable(err: httpx.HTTPError, outgoing: Outgoing) -> PublishError:
    # Raised unchained by the callers: httpx's error keeps the request, Authorization included.
    detail = _redact(f"{type(err).__name__}: {err}", outgoing)
    return PublishError(None, f"could not reach {outgoing.url}: {detail}")


def _encode(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class Publisher:
    """Publishes messages with the resolved outgoing credentials (synchronous).

    Args:
        outgoing: ``load_config(...).outgoing`` (dev, explicit, the migration-mode primary
            region, or ``QSTASH_URL``/``QSTASH_TOKEN``).
        timeout: seconds for each publish request.
        client: an ``httpx.Client`` to use instead of a new one (not closed by ``close``).

    Raises:
        ConfigError: (from the publish methods) the configuration has no token.
    """

    def __init__(
        self, outgoing: Outgoing, *, timeout: float = 10.0, client: httpx.Client | None = None
    ) -> None:
        outgoing.log_warnings()
        self.outgoing = outgoing
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"Publisher(url={self.outgoing.url!r}, source={self.outgoing.source!r})"

    def publish(
        self, destination: str, body: bytes | str = b"", **options: Unpack[PublishOptions]
    ) -> str:
        """Publish a raw body to ``destination``; return QStash's message id.

        ``options`` are the :class:`PublishOptions` keys.

        Raises:
            PublishError: QStash answered non-2xx (``.status``) or was unreachable.
            ConfigError: no token is configured.
            ValueError: ``destination`` is not an http(s) URL, or ``method`` is unknown.
        """
        url, headers = _request_parts(self.outgoing, destination, options)
        logger.debug("publishing to %s via %s", destination, self.outgoing.url)
        try:
            response = self._client.post(url, content=_encode(body), headers=headers)
        except httpx.HTTPError as err:
            failure = _unreachable(err, self.outgoing)
        else:
            return _message_id(response, self.outgoing)
        raise failure  # outside the except block: nothing chained

    def publish_json(self, destination: str, value: Any, **options: Unpack[PublishOptions]) -> str:
        """Publish ``value`` serialised as JSON (``Content-Type: application/json``).

        Raises:
            The same errors as :meth:`publish`.
        """
        body = json.dumps(value, separators=(",", ":"))
        return self.publish(destination, body, **_json_options(options))

    def close(self) -> None:
        """Close the HTTP client this publisher created."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncPublisher:
    """The asyncio twin of :class:`Publisher` (same arguments, awaitable methods)."""

    def __init__(
        self,
        outgoing: Outgoing,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        outgoing.log_warnings()
        self.outgoing = outgoing
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncPublisher(url={self.outgoing.url!r}, source={self.outgoing.source!r})"

    async def publish(
        self, destination: str, body: bytes | str = b"", **options: Unpack[PublishOptions]
    ) -> str:
        """Publish a raw body to ``destination``; return QStash's message id.

        Raises:
            PublishError: QStash answered non-2xx (``.status``) or was unreachable.
            ConfigError: no token is configured.
            ValueError: ``destination`` is not an http(s) URL, or ``method`` is unknown.
        """
        url, headers = _request_parts(self.outgoing, destination, options)
        logger.debug("publishing to %s via %s", destination, self.outgoing.url)
        try:
            response = await self._client.post(url, content=_encode(body), headers=headers)
        except httpx.HTTPError as err:
            failure = _unreachable(err, self.outgoing)
        else:
            return _message_id(response, self.outgoing)
        raise failure  # outside the except block: nothing chained

    async def publish_json(
        self, destination: str, value: Any, **options: Unpack[PublishOptions]
    ) -> str:
        """Publish ``value`` serialised as JSON (``Content-Type: application/json``).

        Raises:
            The same errors as :meth:`publish`.
        """
        body = json.dumps(value, separators=(",", ":"))
        return await self.publish(destination, body, **_json_options(options))

    async def aclose(self) -> None:
        """Close the HTTP client this publisher created."""
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncPublisher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
