"""The official clients publish to the stand-in; their deliveries verify in our Flask adapter.

The Python SDK gets the stand-in's URL and token from the migration-mode environment block;
@upstash/qstash's ``Client`` is constructed without options, so it reads the same block from
``process.env`` (QSTASH_REGION plus the region's URL and token) exactly as in production.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from loopback import in_thread
from werkzeug.serving import make_server

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.flask import current_message, verify_qstash
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV

INTEROP = Path(__file__).resolve().parent / "interop"
REGIONS: list[Region] = ["EU_CENTRAL_1", "US_EAST_1"]


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/qstash")
    @verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)))
    def hook() -> dict[str, Any]:
        message = current_message()
        return {
            "message_id": message.message_id,
            "key_region": message.key_region,
            "retried": message.retried,
            "body": message.json(),
            "forwarded": dict(message.forwarded_headers),
            "user_agent": request.headers.get("User-Agent"),
        }

    return app


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with in_thread(make_server("127.0.0.1", 0, flask_app(), threaded=True)) as base:
        yield f"{base}/qstash"


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


def verified(dev: DevServer, message_id: str) -> dict[str, Any]:
    """The Flask view's answer to that message (only a verified delivery reaches it)."""
    attempt = dev.wait_for(message_id)
    assert (attempt.status, attempt.retried) == (200, 0), attempt.response_body[:200]
    answer: dict[str, Any] = json.loads(attempt.response_body)
    assert answer["message_id"] == message_id
    return answer


@pytest.mark.parametrize("region", REGIONS)
def test_python_sdk_publishes_through_each_region(
    dev: DevServer, endpoint: str, region: Region
) -> None:
    from qstash import QStash
    from qstash.message import PublishResponse

    env = dev.env(region)
    client = QStash(env[f"{region}_QSTASH_TOKEN"], base_url=env[f"{region}_QSTASH_URL"])
    try:
        response = client.message.publish_json(
            url=endpoint, body={"sdk": "python"}, headers={"X-Interop": "python"}
        )
    finally:
        client.http._client.close()  # the SDK offers no close(); avoid a leaked socket
    assert isinstance(response, PublishResponse)
    answer = verified(dev, response.message_id)
    assert answer["key_region"] == region
    assert answer["body"] == {"sdk": "python"}
    assert answer["forwarded"]["x-interop"] == "python"
    assert answer["user_agent"] == "Upstash-QStash"


@pytest.mark.parametrize("primary", REGIONS)
def test_node_client_configured_only_by_migration_env(
    dev: DevServer, endpoint: str, primary: Region
) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the interop tests"
    assert (INTEROP / "node_modules" / "@upstash" / "qstash").is_dir(), "run `make node`"
    env = {"PATH": os.environ.get("PATH", ""), **dev.env(primary)}
    assert not {"QSTASH_URL", "QSTASH_TOKEN"} & set(env)  # only the migration-mode variables
    result = subprocess.run(
        [node, "client_publish.mjs", endpoint, '{"n": 1}', '{"n": 2}'],
        cwd=INTEROP, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    responses = json.loads(result.stdout)
    assert len(responses) == 2
    answers = [verified(dev, response["messageId"]) for response in responses]
    assert [a["body"] for a in answers] == [{"n": 1}, {"n": 2}]
    assert {a["key_region"] for a in answers} == {primary}
    assert all(a["forwarded"]["x-interop"] == "node" for a in answers)
