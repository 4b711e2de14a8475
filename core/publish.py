"""Publish through the official SDK (``qstash`` on PyPI, the ``publish`` extra), configured here.

The SDK does the publishing; this module gives it the URL and token that
[`load_config()`][qstash_receiver.load_config] resolves, for the outgoing region or for a region by
name. Kept out of ``qstash_receiver/__init__`` so that receiving never imports the SDK:

```python
from qstash_receiver.publish import qstash_client

client = qstash_client()  # the outgoing region: the primary one in migration mode
client.message.publish_json(url="https://example.com/api/qstash", body={"hello": "world"})
qstash_client("EU_CENTRAL_1").message.publish_json(...)  # through EU_CENTRAL_1
```

A client keeps its HTTP connections for its lifetime (the SDK has no ``close()``): build one
per process and region, and reuse it.
"""

from __future__ import annotations

from typing import Literal

from .config import QStashConfig, load_config
from .credentials import outgoing_for
from .errors import ConfigError
from .integration import missing_extra

try:
    from qstash import AsyncQStash, QStash
    from qstash.http import RetryConfig
except ModuleNotFoundError as error:
    raise missing_extra(error, "publish") from None

__all__ = ["async_qstash_client", "qstash_client"]


def _outgoing(region: str | None, config: QStashConfig | None) -> tuple[str, str]:
    resolved = load_config() if config is None else config
    outgoing = (
        resolved.outgoing if region is None else outgoing_for(resolved.outgoing_regions, region)
    )
    outgoing.log_warnings()
    if outgoing.token is None:
        raise ConfigError(
            "no QStash token configured: set QSTASH_TOKEN, or QSTASH_REGION with that "
            "region's {REGION}_QSTASH_URL and {REGION}_QSTASH_TOKEN"
        )
    return outgoing.url, outgoing.token.reveal()


def qstash_client(
    region: str | None = None,
    *,
    config: QStashConfig | None = None,
    retry: RetryConfig | Literal[False] | None = None,
) -> QStash:
    """The official SDK's client, configured to publish through ``region``.

    Without ``region``, the outgoing credentials, first match wins: dev mode (the local dev
    server and its public token), explicit ``url`` and ``token`` given to ``load_config``, in
    migration mode the primary region's ``{QSTASH_REGION}_QSTASH_URL`` and ``_QSTASH_TOKEN``,
    then ``QSTASH_URL`` (default ``https://qstash.upstash.io``) and ``QSTASH_TOKEN``. With a
    ``region``, that region's ``{REGION}_QSTASH_URL`` and ``{REGION}_QSTASH_TOKEN`` (in dev mode,
    the dev server). The configuration's warnings about publishing are logged here.

    Args:
        region: ``EU_CENTRAL_1`` or ``US_EAST_1`` in any spelling (``eu-central-1``), or
            ``None`` for the outgoing region.
        config: the configuration to use; default ``load_config()`` (the process environment).
        retry: the SDK's own ``retry`` (``False``: one attempt; default: its five retries
            of a request that got no answer, with a growing backoff).

    Returns:
        A ``qstash.QStash`` with that token and ``base_url``.

    Raises:
        ConfigError: ``region`` is not a region, that region's URL and token are not both
            set, no token is configured, or ``load_config()`` refused the environment. No
            message contains the token.
    """
    url, token = _outgoing(region, config)
    return QStash(token, retry=retry, base_url=url)


def async_qstash_client(
    region: str | None = None,
    *,
    config: QStashConfig | None = None,
    retry: RetryConfig | Literal[False] | None = None,
) -> AsyncQStash:
    """[`qstash_client()`][qstash_receiver.publish.qstash_client] for asyncio: the SDK's
    ``qstash.AsyncQStash``, configured the same.

    Args:
        region: ``EU_CENTRAL_1`` or ``US_EAST_1`` in any spelling, or ``None`` for the
            outgoing region.
        config: the configuration to use; default ``load_config()``.
        retry: the SDK's own ``retry``, as for
            [`qstash_client()`][qstash_receiver.publish.qstash_client].

    Returns:
        A ``qstash.AsyncQStash`` with that token and ``base_url``.

    Raises:
        ConfigError: as [`qstash_client()`][qstash_receiver.publish.qstash_client].
    """
    url, token = _outgoing(region, config)
    return AsyncQStash(token, retry=retry, base_url=url)
