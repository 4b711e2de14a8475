"""Sign deliveries exactly as QStash does, for tests of your own endpoints.

Example::

    from qstash_receiver.testing import signed_headers

    headers = signed_headers(b'{"hello": "world"}', key="sig_...", url="https://x.test/hook")
    response = client.post("/hook", data=b'{"hello": "world"}', headers=headers)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from .jws import b64url
from .names import Region, region_header
from .verify import Body

__all__ = [
    "DEFAULT_LIFETIME",
    "DEMO_ENV",
    "DEMO_KEYS",
    "sign",
    "signed_headers",
]

#: QStash's default token lifetime, in seconds.
DEFAULT_LIFETIME = 300

_HEADER = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())

#: Made-up signing keys per region for demos and tests (never valid on QStash).
DEMO_KEYS: Mapping[Region, tuple[str, str]] = {
    "EU_CENTRAL_1": ("sig_demoEuCurrent000000000000000", "sig_demoEuNext00000000000000000000"),
    "US_EAST_1": ("sig_demoUsCurrent000000000000000", "sig_demoUsNext00000000000000000000"),
}

#: A migration-mode environment (primary US_EAST_1) built from :data:`DEMO_KEYS`.
DEMO_ENV: Mapping[str, str] = {
    "QSTASH_REGION": "US_EAST_1",
    **{
        f"{region}_{name}": value
        for region, (current, nxt) in DEMO_KEYS.items()
        for name, value in (
            ("QSTASH_CURRENT_SIGNING_KEY", current),
            ("QSTASH_NEXT_SIGNING_KEY", nxt),
            ("QSTASH_TOKEN", f"demo-token-{region.lower()}"),
        )
    },
    "US_EAST_1_QSTASH_URL": "https://qstash-us-east-1.upstash.io",
    "EU_CENTRAL_1_QSTASH_URL": "https://qstash-eu-central-1.upstash.io",
}


def sign(
    body: Body,
    *,
    key: str,
    url: str = "https://example.com/api/qstash",
    now: float | None = None,
    lifetime: int = DEFAULT_LIFETIME,
    padded: bool = True,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """An ``Upstash-Signature`` value for ``body``, as QStash makes it.

    Args:
        body: the raw body (``str`` is encoded as UTF-8).
        key: the signing key (QStash signs with the region's current key).
        url: the destination URL, signed as ``sub``.
        now: the issue time (``iat``/``nbf``); defaults to the current time.
        lifetime: seconds until ``exp`` (QStash: 300).
        padded: keep the ``=`` padding of the ``body`` claim, as QStash does.
        claims: claims to add or override (e.g. ``{"iss": "someone"}`` for negative tests).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    issued = int(time.time() if now is None else now)
    digest = hashlib.sha256(raw).digest()
    body_claim = b64url(digest) + ("=" if padded else "")
    payload: dict[str, Any] = {
        "iss": "Upstash",
        "sub": url,
        "exp": issued + lifetime,
        "nbf": issued,
        "iat": issued,
        "jti": f"jwt_{secrets.token_hex(12)}",
        "body": body_claim,
    }
    payload.update(claims or {})
    signing_input = f"{_HEADER}.{b64url(json.dumps(payload, separators=(',', ':')).encode())}"
    mac = hmac.digest(key.encode("utf-8"), signing_input.encode("ascii"), "sha256")
    return f"{signing_input}.{b64url(mac)}"


def signed_headers(
    body: Body,
    *,
    key: str,
    url: str = "https://example.com/api/qstash",
    region: str | None = None,
    message_id: str | None = None,
    retried: int = 0,
    caller_ip: str | None = None,
    forwarded: Mapping[str, str] | None = None,
    **sign_options: Any,
) -> dict[str, str]:
    """The headers of a QStash delivery of ``body``: signature, region, message id, retries.

    Args:
        body: the raw body the signature covers.
        key: the signing key.
        url: the destination URL, signed as ``sub``.
        region: the ``Upstash-Region`` to send (any spelling), or none.
        message_id: the ``Upstash-Message-Id`` (default: a new random id).
        retried: the ``Upstash-Retried`` count (0 on the first delivery).
        caller_ip: the ``Upstash-Caller-Ip`` to send, or none.
        forwarded: headers the publisher forwarded, sent as given (``Content-Type`` and the
            ``Upstash-Forward-*`` headers with the prefix removed); they never replace the
            headers above.
        sign_options: passed to :func:`sign` (``now``, ``lifetime``, ``padded``, ``claims``).
    """
    headers = {
        "Upstash-Signature": sign(body, key=key, url=url, **sign_options),
        "Upstash-Message-Id": message_id or f"msg_{secrets.token_hex(12)}",
        "Upstash-Retried": str(retried),
        "User-Agent": "Upstash-QStash",
    }
    if region is not None:
        headers["Upstash-Region"] = region_header(region)
    if caller_ip is not None:
        headers["Upstash-Caller-Ip"] = caller_ip
    taken = {name.lower() for name in headers}
    headers.update((k, v) for k, v in (forwarded or {}).items() if k.lower() not in taken)
    return headers
