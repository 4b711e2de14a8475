"""Requests as QStash sends them to an Upstash Workflow endpoint, and what the endpoint's SDK
must then do (not a test module). Shared by the FastAPI and Flask serve-path tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from qstash_demo.workflow_api import ApiCall
from stack_cases import JSON_BODY, URL, genuine

from qstash_receiver.names import Region

RUN_ID = "wfr_test_run"
#: The SDK's protocol headers on every call after the first (QStash adds them to the steps).
STEP_HEADERS = {"Upstash-Workflow-Sdk-Version": "1", "Upstash-Workflow-RunId": RUN_ID}
RECEIPT = "receipt-4217"


def _item(message_id: str, payload: bytes) -> dict[str, str]:
    return {"messageId": message_id, "body": base64.b64encode(payload).decode(), "callType": "step"}


def _step(step_id: int, name: str, out: Any) -> bytes:
    fields = {"stepId": step_id, "stepName": name, "stepType": "Run", "out": json.dumps(out)}
    return json.dumps({**fields, "concurrent": 1}).encode()


#: The body of the call that runs the first step: the initial payload only.
FIRST_STEP_BODY = json.dumps([_item("msg_init", JSON_BODY)]).encode()
#: The body of the last call: both steps' results, so the run ends.
LAST_CALL_BODY = json.dumps(
    [
        _item("msg_init", JSON_BODY),
        _item("msg_step1", _step(1, "charge", RECEIPT)),
        _item("msg_step2", _step(2, "notify", None)),
    ]
).encode()


def start(region: Region, url: str = URL) -> tuple[dict[str, str], bytes]:
    """The first call: the payload a user published to the workflow, signed by ``region``."""
    return genuine(JSON_BODY, region, url=url), JSON_BODY


def step(region: Region, body: bytes, url: str = URL) -> tuple[dict[str, str], bytes]:
    """A call of a running workflow, signed by ``region``."""
    return {**genuine(body, region, url=url), **STEP_HEADERS}, body


def started_a_run(calls: list[ApiCall], url: str) -> bool:
    """The SDK started a run of the workflow at ``url`` (``POST /v2/batch``, init header)."""
    if [(c.method, c.path) for c in calls] != [("POST", "/v2/batch")]:
        return False
    [message] = calls[0].body
    return bool(
        message["destination"] == url and message["headers"]["Upstash-Workflow-Init"] == "true"
    )


def handed_back_step(calls: list[ApiCall], name: str, out: Any) -> bool:
    """The SDK handed QStash the result of step ``name`` (``POST /v2/batch``)."""
    if [(c.method, c.path) for c in calls] != [("POST", "/v2/batch")]:
        return False
    [message] = calls[0].body
    result = json.loads(message["body"])
    return bool(result["stepName"] == name and json.loads(result["out"]) == out)


def ended_the_run(calls: list[ApiCall]) -> bool:
    """The SDK ended the run (``DELETE /v2/workflows/runs/{id}``)."""
    return [(c.method, c.path) for c in calls] == [("DELETE", f"/v2/workflows/runs/{RUN_ID}")]


def refused(status: int, answer: Any) -> bool:
    """The SDK's answer to a request its receiver refused: 500, naming the verification."""
    return status == 500 and "Failed to verify that the Workflow request comes from QStash" in str(
        answer.get("message")
    )
