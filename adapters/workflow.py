"""Upstash Workflow: [`WorkflowReceiver`][qstash_receiver.adapters.workflow.WorkflowReceiver], a
drop-in for upstash-workflow's ``receiver=``.


```python
from upstash_workflow.fastapi import Serve
from qstash_receiver.adapters.workflow import WorkflowReceiver

serve = Serve(app)

@serve.post("/workflow", receiver=WorkflowReceiver())
async def workflow(context: AsyncWorkflowContext[dict]) -> None: ...
```

The SDK verifies with ``receiver.verify(body=..., signature=...)`` only: it passes neither
the ``Upstash-Region`` header nor the URL, and without a receiver (no
``QSTASH_CURRENT/NEXT_SIGNING_KEY`` set) it verifies nothing at all.
"""

from __future__ import annotations

import dataclasses
import logging

from qstash_receiver.integration import missing_extra

try:
    from qstash import Receiver as _SdkReceiver
except ModuleNotFoundError as error:
    raise missing_extra(error, "workflow") from None

from qstash_receiver import (
    ConfigError,
    InvalidSignatureError,
    QStashConfig,
    QStashError,
    Receiver,
    SignatureError,
    VerifiedMessage,
)
from qstash_receiver.answers import refusal
from qstash_receiver.integration import Options

__all__ = ["WorkflowReceiver", "VerifiedMessage", "QStashError", "SignatureError", "ConfigError"]

logger = logging.getLogger("qstash_receiver")


class WorkflowReceiver(_SdkReceiver):
    """Verifies Upstash Workflow requests, in single-region and migration mode; never off.

    Pass it as ``receiver=`` to upstash-workflow's ``serve``/``async_serve`` or its FastAPI
    and Flask ``Serve``. The SDK gives no ``Upstash-Region`` header, so in migration mode a
    signature is accepted when it verifies with the keys of any configured region (or the
    ``QSTASH_CURRENT/NEXT_SIGNING_KEY`` pair), and refused otherwise. With no usable keys it
    refuses every request (``ConfigError``, logged at ERROR), where the SDK's own default
    would switch verification off.

    Args:
        receiver: whose configuration (keys, regions, dev mode) to use; default: a
            ``Receiver()`` reading the environment on the first request (``QSTASH_REGION``,
            ``[REGION_]QSTASH_CURRENT/NEXT_SIGNING_KEY``, ``QSTASH_DEV``).
        url: when given, the signed destination URL (``sub``) must equal it.
        clock_tolerance: seconds of clock skew accepted on ``exp``, ``nbf`` and ``iat``.

    Raises:
        ValueError, TypeError: invalid options.
    """

    def __init__(
        self,
        *,
        receiver: Receiver | None = None,
        url: str | None = None,
        clock_tolerance: float = 0,
    ) -> None:
        # Not the SDK's keys (super().__init__ is not called): every check goes through ours.
        options = Options(url=url, clock_tolerance=clock_tolerance, receiver=receiver)
        if url is not None and not isinstance(url, str):
            raise TypeError(
                "WorkflowReceiver(url=...) takes the URL itself: the SDK has no request"
            )
        self._receiver = options.receiver or Receiver()
        self._url, self._tolerance = url, options.clock_tolerance
        self._pairs: tuple[QStashConfig, tuple[Receiver, ...]] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _receivers(self) -> tuple[Receiver, ...]:
        config = self._receiver.config  # ConfigError for a bad environment
        if self._pairs is None or self._pairs[0] is not config:
            keys = [config.fixed_keys] if config.fixed_keys else [*config.region_keys.values()]
            keys += [config.default_keys] if config.default_keys and not config.fixed_keys else []
            # One receiver per key pair: each pair is tried as the only one configured.
            one = [dataclasses.replace(config, fixed_keys=pair, warnings=()) for pair in keys]
            self._pairs = (config, tuple(Receiver(config=c) for c in one))
        if not self._pairs[1]:
            raise ConfigError(
                "WorkflowReceiver: no signing keys configured, so every workflow request is "
                "refused: set QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (or "
                "QSTASH_REGION with each region's pair)"
            )
        return self._pairs[1]

    def verify(  # type: ignore[override]  # the SDK ignores the result; a message is more
        self,
        *,
        signature: str,
        body: str | bytes,
        url: str | None = None,
        clock_tolerance: float | None = None,
        upstash_region: str | None = None,
    ) -> VerifiedMessage:
        """Verify one request as upstash-workflow calls it (``body`` as text is hashed as UTF-8).

        ``url`` and ``clock_tolerance``, when given, replace the options; an ``upstash_region``
        selects that region's keys as
        [`qstash_receiver.Receiver.verify()`][qstash_receiver.Receiver.verify] does. Returns the
        message (truthy); the SDK only needs the call not to raise.

        Raises:
            SignatureError: a subclass naming the failed check (``.reason``), logged at INFO.
            ConfigError: no usable signing keys, logged at ERROR (the SDK replaces the text).
        """
        url = self._url if url is None else url
        tolerance = self._tolerance if clock_tolerance is None else clock_tolerance
        try:
            if upstash_region is not None:
                return self._receiver.verify(
                    signature=signature, body=body, url=url, clock_tolerance=tolerance,
                    upstash_region=upstash_region,
                )  # fmt: skip
            for receiver in self._receivers():
                try:
                    return receiver.verify(
                        signature=signature, body=body, url=url, clock_tolerance=tolerance
                    )
                except InvalidSignatureError:  # not this pair's: the next one's, maybe
                    continue
            raise InvalidSignatureError()
        except QStashError as error:
            refusal(error)  # the log line every refusal gets
            raise
