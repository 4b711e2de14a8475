"""The stand-in's side of QStash's publish API: parse a publish into a `Message`.

Publish headers understood (QStash's names, https://upstash.com/docs/qstash/api/publish):
``Upstash-Method``, ``Upstash-Delay``, ``Upstash-Retries`` (QStash's default: 3),
``Upstash-Forward-*``, ``Upstash-Deduplication-Id``, ``Upstash-Content-Based-Deduplication``,
``Upstash-Callback`` and ``Upstash-Failure-Callback`` with their ``-Retries``, ``-Method``,
``-Delay`` and ``-Forward-*`` settings. One header is the stand-in's own and never QStash's:
``X-Dev-Deliver-Twice: true`` delivers the message once more after it succeeded.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BufferedIOBase
from typing import Literal
from urllib.parse import unquote

from qstash_receiver import names as E
from qstash_receiver.demo_keys import DEMO_ENV, DEMO_KEYS
from qstash_receiver.headers import Headers
from qstash_receiver.names import HTTP_METHODS, Region

from .._common import declared_length

__all__ = [
    "DELIVER_TWICE",
    "FollowUp",
    "Kind",
    "Message",
    "Refused",
    "RegionSetup",
    "Settings",
    "checked_url",
    "demo_regions",
    "parse_duration",
    "publish_settings",
    "read_body",
    "read_publish",
    "url_or_name",
]

#: The stand-in's own publish header (dev only): deliver the message a second time.
DELIVER_TWICE = "X-Dev-Deliver-Twice"
MAX_BODY_BYTES = E.MAX_MESSAGE_BYTES
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_FORWARD = E.FORWARD_HEADER_PREFIX.lower()
_PUBLISH = "/v2/publish/"

Kind = Literal["message", "callback", "failure-callback"]


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
class FollowUp:
    """Where and how to send a callback or failure callback of a message."""

    url: str
    method: str
    retries: int
    delay: float
    forwarded: Mapping[str, str]


@dataclass(frozen=True)
class Settings:
    """What a publish asks for besides its destination and body."""

    method: str
    delay: float
    retries: int
    forwarded: Mapping[str, str]
    callback: FollowUp | None = None
    failure_callback: FollowUp | None = None
    deliver_twice: bool = False


@dataclass(frozen=True)
class Message:
    """One accepted message (a publish, or a callback the stand-in sends), ready to deliver.

    ``forwarded`` holds the headers delivered with it (never the publish's Authorization).
    """

    region: RegionSetup
    message_id: str
    destination: str
    body: bytes = field(repr=False)
    settings: Settings
    caller_ip: str
    created_ms: int
    kind: Kind = "message"
    source_message_id: str | None = None
    schedule_id: str | None = None
    url_group: str | None = None
    endpoint_name: str | None = None

    @property
    def origin_headers(self) -> dict[str, str]:
        """What QStash adds to a delivery made by a schedule or through a URL group."""
        headers: dict[str, str] = {}
        if self.schedule_id is not None:
            headers[E.SCHEDULE_ID_HEADER.title()] = self.schedule_id
        if self.url_group is not None:
            headers[E.TOPIC_NAME_HEADER.title()] = self.url_group
        return headers


class Refused(Exception):
    """A request the stand-in answers with an error status and QStash-style JSON."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def authorized(setup: RegionSetup, headers: Headers) -> bool:
    """True when the request carries this region's token."""
    supplied = headers.get("Authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {setup.token}".encode())


def read_body(headers: Headers, body: BufferedIOBase) -> bytes:
    """The request's body, read by its ``Content-Length``, or Refused."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        # http.server does not decode chunked bodies; refusing beats reading an empty one.
        raise Refused(411, "Length Required: send the body with a Content-Length")
    length = declared_length(headers.get("Content-Length"))
    if length is None:
        raise Refused(400, "invalid Content-Length")
    if length > MAX_BODY_BYTES:
        raise Refused(413, "message too large")
    return body.read(length)


def url_or_name(value: str) -> str:
    """A destination as given in a path: a URL (maybe percent-encoded), or a URL group's name."""
    if value.lower().startswith(("http%3a", "https%3a")):
        return unquote(value)
    return value


def read_publish(
    setup: RegionSetup, path: str, headers: Headers, body: BufferedIOBase
) -> tuple[str, bytes]:
    """The destination (a URL or a URL group's name) and body of a publish, or Refused."""
    if not path.startswith(_PUBLISH):
        raise Refused(404, "only POST /v2/publish/{destination} is supported here")
    if not authorized(setup, headers):
        raise Refused(401, "Unauthorized")
    return url_or_name(path[len(_PUBLISH) :]), read_body(headers, body)


def checked_url(value: str, what: str) -> str:
    """``value`` when it is an http(s) URL (percent-encoded or not), else Refused (400)."""
    if value.lower().startswith(("http%3a", "https%3a")):
        value = unquote(value)
    if not value.startswith(("http://", "https://")):
        raise Refused(400, f"invalid {what}: must start with http:// or https://")
    return value


def _forwarded(headers: Headers, prefix: str, content_type: bool) -> dict[str, str]:
    forwarded: dict[str, str] = {}
    for name in headers:
        value = headers[name]
        if name.startswith(prefix):
            forwarded[name[len(prefix) :]] = value
        elif content_type and name == "content-type":
            forwarded["Content-Type"] = value
    return forwarded


def _common(headers: Headers, prefix: str, default_retries: int) -> tuple[str, float, int]:
    """Method, delay and retries under ``prefix`` (``Upstash-``, ``Upstash-Callback-``...)."""
    method = (headers.get(f"{prefix}Method") or "POST").upper()
    if method not in HTTP_METHODS:
        raise Refused(400, f"invalid {prefix}Method: must be one of {sorted(HTTP_METHODS)}")
    try:
        delay = parse_duration(headers.get(f"{prefix}Delay") or "0")
        retries = int(headers.get(f"{prefix}Retries") or default_retries)
    except ValueError:
        raise Refused(400, f"invalid {prefix}Delay or {prefix}Retries") from None
    if retries < 0:
        raise Refused(400, f"{prefix}Retries must not be negative")
    return method, delay, retries


def _follow_up(headers: Headers, prefix: str, default_retries: int) -> FollowUp | None:
    url = headers.get(prefix)
    if not url:
        return None
    method, delay, retries = _common(headers, f"{prefix}-", default_retries)
    forwarded = _forwarded(headers, f"{prefix.lower()}-forward-", content_type=False)
    return FollowUp(checked_url(url, prefix), method, retries, delay, forwarded)


def publish_settings(headers: Headers, default_retries: int) -> Settings:
    """The settings of a publish, or Refused."""
    method, delay, retries = _common(headers, "Upstash-", default_retries)
    twice = (headers.get(DELIVER_TWICE) or "").lower()
    if twice not in ("", "true", "false"):
        raise Refused(400, f"invalid {DELIVER_TWICE}: use true or false")
    return Settings(
        method,
        delay,
        retries,
        _forwarded(headers, _FORWARD, content_type=True),
        callback=_follow_up(headers, E.CALLBACK_HEADER, default_retries),
        failure_callback=_follow_up(headers, E.FAILURE_CALLBACK_HEADER, default_retries),
        deliver_twice=twice == "true",
    )
