"""An Upstash Workflow endpoint (FastAPI) whose requests are verified in migration mode.

upstash-workflow's own verification takes ``QSTASH_CURRENT/NEXT_SIGNING_KEY`` only, and is off
when they are not set. :class:`~qstash_receiver.adapters.workflow.WorkflowReceiver` verifies
with every configured region's keys (``QSTASH_REGION`` plus both regions' pairs) and refuses
every request when no keys are configured. The SDK's calls back to QStash use the outgoing
region's URL and token (``qstash_receiver.publish.async_qstash_client``). Serve it with::

    uvicorn app:app --app-dir samples/workflow_app --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from upstash_workflow import AsyncWorkflowContext
from upstash_workflow.fastapi import Serve

from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.publish import async_qstash_client

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")

app = FastAPI(title="qstash-receiver Upstash Workflow sample")
serve = Serve(app)
#: Where the SDK calls QStash back (to start a run, hand over a step's result, end a run).
client = async_qstash_client()


@serve.post("/workflow", receiver=WorkflowReceiver(), qstash_client=client)
async def workflow(context: AsyncWorkflowContext[dict[str, Any]]) -> None:
    order = context.request_payload

    async def charge() -> str:
        logger.info("charged order %s", order.get("order_id"))
        return f"receipt-{order.get('order_id')}"

    receipt = await context.run("charge", charge)

    async def notify() -> None:
        logger.info("notified: %s", receipt)

    await context.run("notify", notify)
