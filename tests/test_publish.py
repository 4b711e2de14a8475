"""Publishing through the official SDK: ``qstash_client`` and ``async_qstash_client``.

The clients publish to the two-region stand-in (``DevServer``); which region took a message
shows three ways: the stand-in's record of the attempt, the ``Upstash-Region`` header of the
delivery, and the region whose keys verify its signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator

import httpx
import pytest
from destination import Destination, destination
from publishing import async_sdk_client, message_id, sdk_client
from qstash import AsyncQStash, QStash
from qstash.errors import QStashError
from qstash.http import RetryConfig
from qstash_demo.services import free_port
from verdicts import check_request

from qstash_receiver import ConfigError, Receiver, VerifiedMessage, load_config
from qstash_receiver import names as E
from qstash_receiver.cli.dev.server import DevServer, RegionSetup
from qstash_receiver.names import Region, region_header
from qstash_receiver.publish import async_qstash_client, qstash_client
from qstash_receiver.testing import DEMO_ENV

REGIONS: list[Region] = ["EU_CENTRAL_1", "US_EAST_1"]
RECEIVER = Receiver(config=load_config(DEMO_ENV))
TOKEN = "tok_publish_test_9c2e51d7a04b6f83"


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as place:
        yield place


def delivered_through(dev: DevServer, target: Destination, sent: str) -> Region:
    """The region that delivered message ``sent``, after checking that all three agree."""
    attempt = dev.wait_for(sent)
    assert attempt.ok, attempt
    [delivery] = [d for d in target.at("/hook") if d.headers["upstash-message-id"] == sent]
    verified = check_request(RECEIVER, delivery.headers, delivery.body, url=target.url())
    assert isinstance(verified, VerifiedMessage)
    assert delivery.headers["upstash-region"] == region_header(attempt.region)
    assert verified.key_region == attempt.region
    return attempt.region


def other(region: Region) -> Region:
    return "US_EAST_1" if region == "EU_CENTRAL_1" else "EU_CENTRAL_1"


@pytest.mark.parametrize("primary", REGIONS)
def test_the_default_client_publishes_through_the_primary_region(
    dev: DevServer, target: Destination, primary: Region
) -> None:
    with sdk_client(config=load_config(dev.env(primary))) as client:
        response = client.message.publish_json(url=target.url(), body={"n": 1})
    assert delivered_through(dev, target, message_id(response)) == primary
    assert json.loads(target.at("/hook")[0].body) == {"n": 1}


@pytest.mark.parametrize("primary", REGIONS)
@pytest.mark.parametrize("spelling", [str.upper, str.lower, lambda r: r.replace("_", "-")])
def test_a_named_region_publishes_through_that_region(
    dev: DevServer, target: Destination, primary: Region, spelling: Callable[[str], str]
) -> None:
    wanted = other(primary)  # not the primary: the name, not migration mode, decides
    with sdk_client(spelling(wanted), config=load_config(dev.env(primary))) as client:
        response = client.message.publish(url=target.url(), body=b"\x00raw", retries=0)
    assert delivered_through(dev, target, message_id(response)) == wanted
    assert target.at("/hook")[0].body == b"\x00raw"


def test_async_clients_publish_through_the_primary_and_a_named_region(
    dev: DevServer, target: Destination
) -> None:
    config = load_config(dev.env("US_EAST_1"))

    async def publish() -> list[str]:
        async with (
            async_sdk_client(config=config) as default,
            async_sdk_client("EU_CENTRAL_1", config=config) as eu,
        ):
            sent = [
                await client.message.publish_json(url=target.url(), body={"async": True})
                for client in (default, eu)
            ]
        return [message_id(response) for response in sent]

    default_id, eu_id = asyncio.run(publish())
    assert delivered_through(dev, target, default_id) == "US_EAST_1"
    assert delivered_through(dev, target, eu_id) == "EU_CENTRAL_1"


def test_without_config_the_process_environment_is_read(
    dev: DevServer, target: Destination
) -> None:
    script = (
        "import sys\n"
        "from qstash_receiver.publish import qstash_client\n"
        "client = qstash_client(sys.argv[2] or None)\n"
        "print(client.message.publish(url=sys.argv[1], body=b'env').message_id)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), **dev.env("EU_CENTRAL_1")}
    sent = {}
    for region in ("", "US_EAST_1"):
        done = subprocess.run(
            [sys.executable, "-c", script, target.url(), region],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        sent[region] = done.stdout.strip()
    assert delivered_through(dev, target, sent[""]) == "EU_CENTRAL_1"
    assert delivered_through(dev, target, sent["US_EAST_1"]) == "US_EAST_1"


def test_in_dev_mode_every_region_is_the_dev_server(target: Destination) -> None:
    # A stand-in for the QStash dev server: one region with the dev server's token and keys.
    local = RegionSetup(
        "EU_CENTRAL_1", E.DEV_TOKEN, E.DEV_CURRENT_SIGNING_KEY, E.DEV_NEXT_SIGNING_KEY
    )
    with DevServer([local], backoff=0.05) as server:
        port = server.url("EU_CENTRAL_1").rsplit(":", 1)[1]
        # Region credentials are set too: dev mode must not publish to them.
        env = {"QSTASH_DEV": "1", "QSTASH_DEV_PORT": port, **DEMO_ENV}
        for region in (None, "US_EAST_1", "eu-central-1"):
            with sdk_client(region, config=load_config(env)) as client:
                response = client.message.publish(url=target.url(), body=b"dev")
            assert server.wait_for(message_id(response)).ok
    assert len(target.at("/hook")) == 3


# --- configuration errors -----------------------------------------------------------------


Build = Callable[..., QStash | AsyncQStash]
BUILDERS: list[Build] = [qstash_client, async_qstash_client]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("region", ["mars", "", "EU_CENTRAL_1 ", TOKEN])
def test_an_unknown_region_is_refused_without_repeating_it(build: Build, region: str) -> None:
    config = load_config({**DEMO_ENV, "QSTASH_TOKEN": TOKEN})
    with pytest.raises(ConfigError) as caught:
        build(region, config=config)
    assert str(caught.value) == (
        "not a QStash region: use one of EU_CENTRAL_1, US_EAST_1 (any case, with - or _)"
    )


@pytest.mark.parametrize("build", BUILDERS)
def test_a_region_without_url_and_token_is_refused(build: Build) -> None:
    config = load_config({"QSTASH_URL": "https://qstash.example.test", "QSTASH_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="set US_EAST_1_QSTASH_URL and US_EAST_1_QSTASH_TOKEN"):
        build("US_EAST_1", config=config)


@pytest.mark.parametrize("build", BUILDERS)
def test_no_token_is_refused(build: Build) -> None:
    with pytest.raises(ConfigError, match="no QStash token configured"):
        build(config=load_config({"QSTASH_URL": "https://qstash.example.test"}))


def test_the_warnings_about_publishing_are_logged_by_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="qstash_receiver")
    env = {"QSTASH_REGION": "US_EAST_1", "QSTASH_TOKEN": TOKEN}  # no US_EAST_1_QSTASH_URL
    config = load_config(env)
    assert not caplog.records  # load_config logs nothing
    with sdk_client(config=config):
        pass
    assert [r.getMessage() for r in caplog.records] == [
        w.text for w in config.warnings if w.code == "outgoing_fallback"
    ]


def test_retry_is_the_sdks_own() -> None:
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.0

    config = load_config({"QSTASH_URL": f"http://127.0.0.1:{free_port()}", "QSTASH_TOKEN": TOKEN})
    retry: RetryConfig = {"retries": 2, "backoff": backoff}
    with (
        sdk_client(config=config, retry=retry) as client,
        pytest.raises(httpx.ConnectError) as caught,
    ):
        client.message.publish(url="https://example.com/hook")
    assert waits == [0, 1, 2]  # three attempts: the first and two retries
    assert TOKEN not in "".join(traceback.format_exception(caught.value))


# --- the token stays out of reprs, errors and logs on this path ---------------------------------


def test_the_clients_reprs_do_not_show_the_token() -> None:
    config = load_config({"QSTASH_URL": "https://qstash.example.test", "QSTASH_TOKEN": TOKEN})
    sync, asynchronous = qstash_client(config=config), async_qstash_client(config=config)
    try:
        for client in (sync, asynchronous):
            for shown in (client, client.http, client.message, client.schedule, client.dlq):
                assert TOKEN not in repr(shown)
                assert TOKEN not in str(shown)
    finally:
        sync.http._client.close()
        asyncio.run(asynchronous.http._client.aclose())


def test_a_refused_publish_does_not_echo_the_token(
    dev: DevServer, target: Destination, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, the SDK's, httpx, httpcore
    config = load_config({}, url=dev.url("US_EAST_1"), token=TOKEN)  # not the region's token
    with sdk_client(config=config) as client, pytest.raises(QStashError) as caught:
        client.message.publish_json(url=target.url(), body={"n": 1})
    assert "status: 401" in str(caught.value)
    shown = [str(caught.value), repr(caught.value), *traceback.format_exception(caught.value)]
    assert all(TOKEN not in text for text in shown)
    assert TOKEN not in caplog.text
    assert target.at("/hook") == []


def test_an_unreachable_qstash_does_not_echo_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}"
    config = load_config({"QSTASH_URL": url, "QSTASH_TOKEN": TOKEN})

    async def publish() -> BaseException:
        async with async_sdk_client(config=config, retry=False) as client:
            try:
                await client.message.publish(url="https://example.com/hook")
            except httpx.ConnectError as error:
                return error
        raise AssertionError("published to a closed port")

    error = asyncio.run(publish())
    shown = [str(error), repr(error), *traceback.format_exception(error)]
    assert all(TOKEN not in text for text in shown)
    assert "ConnectError" in shown[-1]
    assert TOKEN not in caplog.text


def test_a_published_message_is_logged_without_the_token(
    dev: DevServer, target: Destination, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = DEMO_ENV["EU_CENTRAL_1_QSTASH_TOKEN"]
    with sdk_client("EU_CENTRAL_1", config=load_config(dev.env("US_EAST_1"))) as client:
        response = client.message.publish_json(url=target.url(), body={"n": 2})
    assert delivered_through(dev, target, message_id(response)) == "EU_CENTRAL_1"
    assert any("/v2/publish/" in record.getMessage() for record in caplog.records)  # httpx's
    assert token not in caplog.text
