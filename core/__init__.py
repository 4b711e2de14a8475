"""Verify QStash (Upstash) deliveries, in single-region and migration mode.

Public API::

    from qstash_receiver import Receiver, load_config

    receiver = Receiver(config=load_config())          # keys chosen per Upstash-Region
    message = receiver.verify(signature=sig, body=raw_body, upstash_region=region)
"""

from __future__ import annotations

from ._version import __version__
from .config import Outgoing, QStashConfig, SigningKeys, load_config
from .errors import (
    BodyMismatchError,
    ConfigError,
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
    SignatureError,
    UnsupportedAlgorithmError,
    UrlMismatchError,
)
from .headers import Headers
from .message import VerifiedMessage
from .request import (
    DEFAULT_MAX_BODY_BYTES,
    Rejection,
    check_content_length,
    check_options,
    check_request,
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
    "SigningKeys",
    "Outgoing",
    # framework-neutral request check (used by every adapter)
    "check_request",
    "check_content_length",
    "check_options",
    "Rejection",
    "Headers",
    "DEFAULT_MAX_BODY_BYTES",
    # errors
    "QStashError",
    "ConfigError",
    "PayloadTooLargeError",
    "SignatureError",
    "MissingSignatureError",
    "DuplicateSignatureError",
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
]
