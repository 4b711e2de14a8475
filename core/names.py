"""Every header and environment variable the library reads or writes, and QStash's fixed values.

Header names QStash sends are lower-case here: every lookup goes through the case-insensitive
[`Headers`][qstash_receiver.headers.Headers].
"""

from __future__ import annotations

from typing import Final, Literal

Region = Literal["EU_CENTRAL_1", "US_EAST_1"]
REGIONS: Final[tuple[Region, ...]] = ("EU_CENTRAL_1", "US_EAST_1")

QSTASH_REGION: Final = "QSTASH_REGION"
QSTASH_URL: Final = "QSTASH_URL"
QSTASH_TOKEN: Final = "QSTASH_TOKEN"
QSTASH_CURRENT_SIGNING_KEY: Final = "QSTASH_CURRENT_SIGNING_KEY"
QSTASH_NEXT_SIGNING_KEY: Final = "QSTASH_NEXT_SIGNING_KEY"
QSTASH_DEV: Final = "QSTASH_DEV"
QSTASH_DEV_PORT: Final = "QSTASH_DEV_PORT"

#: Name a Secrets Manager secret / an SSM parameter holding the signing keys (Lambda adapter).
QSTASH_SIGNING_KEYS_SECRET: Final = "QSTASH_SIGNING_KEYS_SECRET"
QSTASH_SIGNING_KEYS_PARAMETER: Final = "QSTASH_SIGNING_KEYS_PARAMETER"

#: Variables that exist once per region, as ``{REGION}_{NAME}``.
REGIONAL_NAMES: Final = (
    QSTASH_URL,
    QSTASH_TOKEN,
    QSTASH_CURRENT_SIGNING_KEY,
    QSTASH_NEXT_SIGNING_KEY,
)

DEFAULT_URL: Final = "https://qstash.upstash.io"
LEGACY_PUBLISH_URL: Final = "https://qstash.upstash.io/v2/publish"
REGION_URLS: Final[dict[Region, str]] = {
    "EU_CENTRAL_1": "https://qstash-eu-central-1.upstash.io",
    "US_EAST_1": "https://qstash-us-east-1.upstash.io",
}

# The QStash dev server's published credentials (public, so never accepted on a cloud runtime).
DEV_CURRENT_SIGNING_KEY: Final = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT_SIGNING_KEY: Final = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
DEV_TOKEN: Final = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
DEV_DEFAULT_PORT: Final = 8080

#: Set by Cloud Run / Cloud Functions: the service (function) name, used to rebuild its URL.
K_SERVICE: Final = "K_SERVICE"
#: Set by the 1st-gen Cloud Functions runtime: the function name.
FUNCTION_NAME: Final = "FUNCTION_NAME"

# Set by the platforms themselves; any of them means "running in the cloud". (FUNCTION_TARGET
# is not one: the local functions-framework sets it too.)
CLOUD_RUNTIME_MARKERS: Final[dict[str, str]] = {
    "AWS_LAMBDA_FUNCTION_NAME": "AWS Lambda",
    K_SERVICE: "Cloud Run / Cloud Functions",
    # Set on every App Service instance (Azure Functions included), not by Core Tools locally.
    "WEBSITE_INSTANCE_ID": "Azure App Service / Azure Functions",
}


def regional(region: Region, name: str) -> str:
    """The name of a region-prefixed variable, e.g. ``US_EAST_1_QSTASH_TOKEN``."""
    return f"{region}_{name}"


#: Every QStash variable ``load_config`` reads (framework settings may set the same names).
CONFIG_NAMES: Final[tuple[str, ...]] = (
    QSTASH_REGION,
    QSTASH_DEV,
    QSTASH_DEV_PORT,
    *REGIONAL_NAMES,
    *(regional(region, name) for region in REGIONS for name in REGIONAL_NAMES),
)


#: The methods QStash delivers with (``Upstash-Method``).
HTTP_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def region_header(region: str) -> str:
    """The ``Upstash-Region`` spelling QStash sends: ``US_EAST_1`` -> ``US-EAST-1``."""
    return region.replace("_", "-").upper()


def normalize_region(value: str | None) -> Region | None:
    """``us-east-1`` / ``US-EAST-1`` / ``us_east_1`` -> ``US_EAST_1``; anything else -> None."""
    if not value:
        return None
    known = _REGION_SPELLINGS.get(value)  # the header as QStash sends it: one lookup
    if known is not None:
        return known
    candidate = value.replace("-", "_").upper()  # no strip(): parity with @upstash/qstash
    for region in REGIONS:
        if candidate == region:
            return region
    return None


_REGION_SPELLINGS: Final[dict[str, Region]] = {
    spelling: region
    for region in REGIONS
    for spelling in (region, region_header(region), region_header(region).lower())
}


# Delivery headers QStash sends.
SIGNATURE_HEADER: Final = "upstash-signature"
REGION_HEADER: Final = "upstash-region"
MESSAGE_ID_HEADER: Final = "upstash-message-id"
RETRIED_HEADER: Final = "upstash-retried"
SCHEDULE_ID_HEADER: Final = "upstash-schedule-id"
TOPIC_NAME_HEADER: Final = "upstash-topic-name"
CALLER_IP_HEADER: Final = "upstash-caller-ip"
#: Every QStash header starts with it; what the publisher forwarded does not.
UPSTASH_HEADER_PREFIX: Final = "upstash-"
CONTENT_LENGTH_HEADER: Final = "content-length"
USER_AGENT_HEADER: Final = "User-Agent"
#: The ``User-Agent`` of every QStash delivery.
QSTASH_USER_AGENT: Final = "Upstash-QStash"
#: Headers a publisher sends (``Upstash-Forward-<Name>`` reaches the destination as ``<Name>``).
FORWARD_HEADER_PREFIX: Final = "Upstash-Forward-"
METHOD_HEADER: Final = "Upstash-Method"
DELAY_HEADER: Final = "Upstash-Delay"
RETRIES_HEADER: Final = "Upstash-Retries"
DEDUPLICATION_ID_HEADER: Final = "Upstash-Deduplication-Id"
CONTENT_BASED_DEDUPLICATION_HEADER: Final = "Upstash-Content-Based-Deduplication"
CALLBACK_HEADER: Final = "Upstash-Callback"
FAILURE_CALLBACK_HEADER: Final = "Upstash-Failure-Callback"
#: Headers of the connection, not of the message (left out of ``forwarded_headers``).
TRANSPORT_HEADERS: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "user-agent"}
)

# Headers an endpoint answers with.
CONTENT_TYPE_HEADER: Final = "Content-Type"
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
#: With status 489, tells QStash not to retry (the message goes to the DLQ).
NON_RETRYABLE_HEADER: Final = "Upstash-NonRetryable-Error"
#: Seconds (or a date) until QStash's next attempt.
RETRY_AFTER_HEADER: Final = "Retry-After"

#: QStash's largest message on pay-as-you-go plans (10 MB): the default body limit of every
#: endpoint, and the stand-in's.
MAX_MESSAGE_BYTES: Final = 10 * 1024 * 1024
#: Characters of a URL path kept as they are when it is rebuilt from its decoded form (RFC 3986
#: pchar, plus "/" and "%"), so that the rebuilt URL matches the signed one.
PATH_SAFE: Final = "/!$&'()*+,;=:@%"
