"""The code of docs/platforms/aiohttp.md, azure-functions.md and workflow.md runs as written,
with the keys in the environment as a deployment has them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import httpx
import pytest
from aiohttp_server import served
from fastapi.testclient import TestClient
from qstash_demo.workflow_api import WorkflowApi, workflow_api
from stack_cases import JSON_BODY, MIGRATION, genuine
from workflow_cases import (
    FIRST_STEP_BODY,
    RECEIPT,
    handed_back_step,
    refused,
    start,
    started_a_run,
    step,
)

from qstash_receiver.adapters import _aiohttp, azure_functions
from qstash_receiver.testing import DEMO_ENV

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ROOT / "docs" / "platforms"


def snippet(page: str, name: str) -> dict[str, Any]:
    """Run snippet ``name`` of ``page``; its namespace."""
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)\n```",
        (PLATFORMS / page).read_text(),
        re.S,
    )
    assert found is not None, f"no snippet {name!r} in {page}"
    namespace: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(found.group(1), f"<{page}:{name}>", "exec"), namespace)  # noqa: S102 (our docs)
    return namespace


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowApi]:
    """Migration mode in the environment; the primary region's QStash is the stand-in."""
    with workflow_api() as running:
        for name, value in {**DEMO_ENV, "US_EAST_1_QSTASH_URL": running.url}.items():
            monkeypatch.setenv(name, value)
        for receiver in (_aiohttp.default_receiver, azure_functions.default_receiver):
            receiver.reset()
        yield running
        for receiver in (_aiohttp.default_receiver, azure_functions.default_receiver):
            receiver.reset()


@pytest.mark.usefixtures("api")
def test_the_aiohttp_page_app() -> None:
    app = snippet("aiohttp.md", "aiohttp-app")["app"]
    with served(app) as base, httpx.Client(base_url=base) as client:
        for region in MIGRATION.regions:
            headers = genuine(JSON_BODY, region, message_id="msg_1")
            answer = client.post("/api/qstash", content=JSON_BODY, headers=headers)
            assert answer.json() == {"id": "msg_1", "order": 4217}
            assert client.post("/api/refund", content=JSON_BODY, headers=headers).json() == {
                "id": "msg_1"
            }
            task = client.post("/tasks/bill", content=JSON_BODY, headers=headers)
            assert task.json() == {"task": "bill", "id": "msg_1"}
            for path in ("/api/qstash", "/api/refund", "/tasks/bill"):
                tampered = client.post(path, content=JSON_BODY + b" ", headers=headers)
                assert tampered.text == "401 Unauthorized: body_mismatch"


@pytest.mark.usefixtures("api")
def test_the_azure_functions_page_app() -> None:
    app: func.FunctionApp = snippet("azure-functions.md", "azure-function-app")["app"]
    user = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
    for region in MIGRATION.regions:
        headers = genuine(JSON_BODY, region, message_id="msg_1")
        req = func.HttpRequest("POST", "https://x.test/api/qstash", headers=headers, body=JSON_BODY)
        assert user["qstash"](req=req).get_body() == b"msg_1 4217"
        answer = asyncio.run(user["orders"](req=req))
        assert answer.get_body() == b"msg_1"
        tampered = func.HttpRequest(
            "POST", "https://x.test/api/qstash", headers=headers, body=b"{}"
        )
        assert user["qstash"](req=tampered).status_code == 401


def test_the_workflow_page_fastapi_app(api: WorkflowApi) -> None:
    app = snippet("workflow.md", "workflow-fastapi")["app"]
    url = "http://testserver/workflow"
    with TestClient(app) as client:
        for region in MIGRATION.regions:
            api.clear()
            headers, body = start(region, url)
            assert client.post("/workflow", content=body, headers=headers).status_code == 200
            assert started_a_run(api.calls, url)
            api.clear()
            headers, body = step(region, FIRST_STEP_BODY, url)
            assert client.post("/workflow", content=body, headers=headers).status_code == 200
            assert handed_back_step(api.calls, "charge", RECEIPT)
            api.clear()
            answer = client.post("/workflow", content=body + b" ", headers=headers)
            assert refused(answer.status_code, answer.json())
            assert api.calls == []


def test_the_workflow_page_flask_app(api: WorkflowApi) -> None:
    app = snippet("workflow.md", "workflow-flask")["app"]
    url = "http://localhost/workflow"
    client = app.test_client()
    for region in MIGRATION.regions:
        api.clear()
        headers, body = step(region, FIRST_STEP_BODY, url)
        assert client.post("/workflow", data=body, headers=headers).status_code == 200
        assert handed_back_step(api.calls, "charge", RECEIPT)
        api.clear()
        answer = client.post("/workflow", data=body + b" ", headers=headers)
        assert refused(answer.status_code, json.loads(answer.get_data()))
        assert api.calls == []
