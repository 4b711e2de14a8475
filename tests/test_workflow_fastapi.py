"""``WorkflowReceiver`` as ``receiver=`` of upstash-workflow's FastAPI ``Serve`` (the SDK's async
serve path), and the FastAPI workflow sample, through Starlette's TestClient. The SDK's calls
back to QStash go to the loopback stand-in ``qstash_demo.workflow_api``."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from qstash import AsyncQStash
from qstash_demo.workflow_api import WorkflowApi, workflow_api
from stack_cases import FORGER_KEY, MIGRATION, MODE_REGION_IDS, MODE_REGIONS, Mode, other
from upstash_workflow import AsyncWorkflowContext
from upstash_workflow.fastapi import Serve
from workflow_cases import (
    FIRST_STEP_BODY,
    LAST_CALL_BODY,
    RECEIPT,
    ended_the_run,
    handed_back_step,
    refused,
    start,
    started_a_run,
    step,
)

from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, signed_headers

ROOT = Path(__file__).resolve().parents[1]
URL = "http://testserver/workflow"  # the URL the TestClient calls


@pytest.fixture(scope="module")
def api() -> Iterator[WorkflowApi]:
    with workflow_api() as running:
        yield running


def fastapi_workflow(api: WorkflowApi, receiver: WorkflowReceiver) -> tuple[FastAPI, list[Any]]:
    """A FastAPI app serving a two-step async workflow with ``receiver``; what its steps ran."""
    app, ran = FastAPI(), list[Any]()
    serve = Serve(app)
    sdk = AsyncQStash("token", base_url=api.url)

    @serve.post("/workflow", receiver=receiver, qstash_client=sdk)
    async def workflow(context: AsyncWorkflowContext[dict[str, Any]]) -> None:
        order = context.request_payload

        async def charge() -> str:
            ran.append(("charge", order["order_id"]))
            return RECEIPT

        receipt = await context.run("charge", charge)

        async def notify() -> None:
            ran.append(("notify", receipt))

        await context.run("notify", notify)

    return app, ran


def send(client: TestClient, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    answer = client.post("/workflow", content=body, headers=headers)
    return answer.status_code, answer.json()


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_a_genuine_workflow_runs_and_forgeries_are_refused(
    api: WorkflowApi, mode: Mode, region: Region
) -> None:
    app, ran = fastapi_workflow(api, WorkflowReceiver(receiver=mode.receiver()))
    with TestClient(app) as client:
        api.clear()
        status, answer = send(client, *start(region, URL))
        assert (status, answer["workflowRunId"][:4]) == (200, "wfr_")
        assert started_a_run(api.calls, URL)
        api.clear()
        assert send(client, *step(region, FIRST_STEP_BODY, URL))[0] == 200
        assert ran == [("charge", 4217)]
        assert handed_back_step(api.calls, "charge", RECEIPT)
        api.clear()
        last = other(region) if mode is MIGRATION else region
        assert send(client, *step(last, LAST_CALL_BODY, URL)) == (
            200,
            {"workflowRunId": "wfr_test_run"},
        )
        assert ended_the_run(api.calls)
        api.clear()
        headers, body = step(region, FIRST_STEP_BODY, URL)
        assert refused(*send(client, headers, body + b" "))  # tampered
        unsigned = {k: v for k, v in headers.items() if k != "Upstash-Signature"}
        assert refused(*send(client, unsigned, body))
        forged = {**headers, **signed_headers(body, key=FORGER_KEY, url=URL)}
        assert refused(*send(client, forged, body))
        assert api.calls == []
        assert ran == [("charge", 4217)]  # nothing more ran


def test_without_keys_every_request_is_refused(api: WorkflowApi) -> None:
    receiver = WorkflowReceiver(receiver=Receiver(config=load_config({})))
    app, ran = fastapi_workflow(api, receiver)
    with TestClient(app) as client:
        api.clear()
        assert refused(*send(client, *step("US_EAST_1", FIRST_STEP_BODY, URL)))
        assert (ran, api.calls) == ([], [])


def test_the_fastapi_sample_runs_a_genuine_workflow(
    api: WorkflowApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**DEMO_ENV, "US_EAST_1_QSTASH_URL": api.url}.items():
        monkeypatch.setenv(name, value)  # its calls back to QStash go to the stand-in
    spec = importlib.util.spec_from_file_location(
        "workflow_fastapi_sample", ROOT / "samples" / "workflow_app" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    with TestClient(sample.app) as client:
        for region in MIGRATION.regions:
            api.clear()
            assert send(client, *start(region, URL))[0] == 200
            assert started_a_run(api.calls, URL)
            api.clear()
            assert send(client, *step(region, FIRST_STEP_BODY, URL))[0] == 200
            assert handed_back_step(api.calls, "charge", RECEIPT)
            api.clear()
            headers, body = step(region, FIRST_STEP_BODY, URL)
            assert refused(*send(client, headers, body + b" "))
            assert api.calls == []
