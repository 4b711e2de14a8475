"""The same workflow under Flask: upstash-workflow's Flask ``Serve``, verified in migration mode.

Serve it with::

    flask --app samples/workflow_app/flask_app.py run --port 8000
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from upstash_workflow import WorkflowContext
from upstash_workflow.flask import Serve

from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.publish import qstash_client

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")

app = Flask(__name__)
serve = Serve(app)
#: Where the SDK calls QStash back (to start a run, hand over a step's result, end a run).
client = qstash_client()


@serve.route("/workflow", receiver=WorkflowReceiver(), qstash_client=client)
def workflow(context: WorkflowContext[dict[str, Any]]) -> None:
    order = context.request_payload

    def charge() -> str:
        logger.info("charged order %s", order.get("order_id"))
        return f"receipt-{order.get('order_id')}"

    receipt = context.run("charge", charge)

    def notify() -> None:
        logger.info("notified: %s", receipt)

    context.run("notify", notify)
