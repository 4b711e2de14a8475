"""The stand-in's side of QStash's publish API: parse a publish, build a delivery's headers."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from io import BufferedIOBase
from urllib.parse import unquote

from qstash_receiver import env as E
from qstash_receiver.env import HTTP_METHODS, Region, region_header
from qstash_receiver.headers import Headers
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign

from ._common import declared_length

__all__ = [
    "Message",
    "PublishRefused",
    "RegionSetup",
    "delivery_headers",
    "demo_regions",
    "parse_duration",
    "publish_settings",
    "read_publish",
]

MAX_BODY_BYTES = 10 * 1024 * 1024
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_FORWARD = "upstash-forward-"
_PREFIX = "/v2/publish/"


@dataclass(frozen=True, repr=False)
class RegionSetup:
    """One simulated region: its token and signing keys."""

    region: Region
    token: str
    current_key: str
    next_key: str

    def __repr__(self) -> str:
        return f"RegionSetup({self.region})"


def demo_regions() -> tuple[RegionSetup, ...]:
    """Both regions with the fixed demo keys and tokens of ``qstash_receiver.testing``."""
    return tuple(
        RegionSetup(region, DEMO_ENV[E.regional(region, E.QSTASH_TOKEN)], *DEMO_KEYS[region])
        for region in E.REGIONS
    )


def parse_duration(value: str) -> float:
    """``"10s"`` / ``"500ms"`` / ``"2m"`` / ``"3"`` -> seconds; ValueError otherwise."""
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Message:
    """One accepted publish, as the delivery thread needs it."""

    region: RegionSetup
    message_id: str
    destination: str
    method: str
    body: bytes
    headers: Mapping[str, str]
    delay: float
    retries: int
    caller_ip: str


class PublishRefused(Exception):
    """A publish the stand-in answers with an error status and QStash-style JSON."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def read_publish(
    setup: RegionSetup, path: str, headers: Headers, body: BufferedIOBase
) -> tuple[str, bytes]:
    """The destination and body of a publish request, or PublishRefused."""
    if not path.startswith(_PREFIX):
        raise PublishRefused(404, "only POST /v2/publish/{destination} is supported here")
    supplied = headers.get("Authorization", "")
    if not hmac.compare_digest(supplied.encode(), f"Bearer {setup.token}".encode()):
        raise PublishRefused(401, "Unauthorized")
    destination = path[len(_PREFIX) :]
    if destination.lower().startswith(("http%3a", "https%3a")):
        destination = unquote(destination)
    if not destination.startswith(("http://", "https://")):
        raise PublishRefused(400, "invalid destination url: must start with http:// or https://")
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        # http.server does not decode chunked bodies; refusing beats publishing an empty one.
        raise PublishRefused(411, "Length Required: send the body with a Content-Length")
    length = declared_length(headers.get("Content-Length"))
    if length is None:
        raise PublishRefused(400, "invalid Content-Length")
    if length > MAX_BODY_BYTES:
        raise PublishRefused(413, "message too large")
    return destination, body.read(length)


def publish_settings(headers: Headers, default_retries: int) -> tuple[str, float, int]:
    """Method, delay (seconds) and retries of a publish, or PublishRefused."""
    method = (headers.get("Upstash-Method") or "POST").upper()
    if method not in HTTP_METHODS:
        raise PublishRefused(400, f"invalid Upstash-Method: must be one of {sorted(HTTP_METHODS)}")
    try:
        delay = parse_duration(headers.get("Upstash-Delay") or "0")
        retries = int(headers.get("Upstash-Retries") or default_retries)
    except ValueError:
        raise PublishRefused(400, "invalid Upstash-Delay or Upstash-Retries") from None
    if retries < 0:
        raise PublishRefused(400, "Upstash-Retries must not be negative")
    return method, delay, retries


def delivery_headers(message: Message, retried: int) -> dict[str, str]:
    """The headers QStash sends with one delivery attempt (freshly signed)."""
    headers = {
        "Upstash-Signature": sign(
            message.body, key=message.region.current_key, url=message.destination
        ),
        "Upstash-Region": region_header(message.region.region),
        "Upstash-Message-Id": message.message_id,
        "Upstash-Retried": str(retried),
        "Upstash-Caller-Ip": message.caller_ip,
        "User-Agent": "Upstash-QStash",
    }
    for name, value in message.headers.items():
        if name.lower().startswith(_FORWARD):
            headers[name[len(_FORWARD) :]] = value
        elif name.lower() == "content-type":
            headers["Content-Type"] = value
    return headers
