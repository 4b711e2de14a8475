"""Verify QStash (Upstash) deliveries, in single-region and migration mode.

Public API:

```python
from qstash_receiver import Receiver, load_config

receiver = Receiver(config=load_config())          # keys chosen per Upstash-Region
message = receiver.verify(signature=sig, body=raw_body, upstash_region=region)
```

Adapters for each platform live in ``qstash_receiver.adapters``; what they share with the
core (the delivery lifecycle) is in [`qstash_receiver.integration`][qstash_receiver.integration].
"""

from __future__ import annotations

from ._version import __version__
from .config import QStashConfig, load_config
from .errors import (
    BodyMismatchError,
    ConfigError,
    DuplicateHeaderError,
    DuplicateSignatureError,
    ExpiredError,
    InvalidClaimsError,
    InvalidIssuerError,
    InvalidSignatureError,
    MalformedBodyError,
    MalformedSignatureError,
    MissingSignatureError,
    NotYetValidError,
    PayloadTooLargeError,
    QStashError,
    ReplayedError,
    SignatureError,
    UnknownRegionError,
    UnsupportedAlgorithmError,
    UrlMismatchError,
)
from .message import VerifiedMessage
from .retry_control import (
    CallbackError,
    InProgressError,
    NonRetryableError,
    RetryLater,
    StoreUnavailableError,
)
from .verify import Receiver

__all__ = [
    "__version__",
    # verification
    "Receiver",
    "VerifiedMessage",
    # configuration
    "load_config",
    "QStashConfig",
    # raised by a handler: retry control
    "NonRetryableError",
    "RetryLater",
    # errors
    "QStashError",
    "ConfigError",
    "PayloadTooLargeError",
    "SignatureError",
    "MissingSignatureError",
    "DuplicateSignatureError",
    "DuplicateHeaderError",
    "MalformedSignatureError",
    "UnsupportedAlgorithmError",
    "InvalidSignatureError",
    "InvalidClaimsError",
    "InvalidIssuerError",
    "ExpiredError",
    "NotYetValidError",
    "BodyMismatchError",
    "MalformedBodyError",
    "UrlMismatchError",
    "UnknownRegionError",
    "ReplayedError",
    # duplicate-delivery guard and callbacks
    "InProgressError",
    "StoreUnavailableError",
    "CallbackError",
]
