"""QStash deliveries to an Azure Functions app (Python v2 programming model).

Configuration comes from App Settings (the environment): ``QSTASH_REGION`` plus both regions'
signing keys for migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``;
a setting may be a Key Vault reference. Functions: ``qstash`` (sync, any method),
``qstash_async`` (``async def``), and ``jobs`` (each message runs once: ``dedupe=``). Run it
locally with Core Tools (``func start`` in this folder) or deploy it with ``func azure
functionapp publish`` (docs/platforms/azure-functions.md).
"""

from __future__ import annotations

import json
import logging

import azure.functions as func

from qstash_receiver import NonRetryableError, VerifiedMessage
from qstash_receiver.adapters.azure_functions import get_message, verify_qstash
from qstash_receiver.dedupe import MemoryStore

logger = logging.getLogger("qstash_sample")

#: QStash delivers with POST by default; a message may ask for any of these methods.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Anonymous: QStash sends no function key; its signature is what authenticates a request.
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def handled(message: VerifiedMessage) -> func.HttpResponse:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    answer = {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "azure",
    }
    return func.HttpResponse(json.dumps(answer), mimetype="application/json")


@app.route(route="qstash", methods=METHODS)
@verify_qstash
def qstash(req: func.HttpRequest) -> func.HttpResponse:
    return handled(get_message(req))


@app.route(route="qstash-async", methods=["POST"])
@verify_qstash
async def qstash_async(req: func.HttpRequest) -> func.HttpResponse:
    order = req.get_json()  # the verified body, untouched
    logger.info("order %s", order.get("order_id"))
    return handled(get_message(req))


# One store per worker process; several instances share a RedisStore instead.
@app.route(route="jobs", methods=["POST"])
@verify_qstash(dedupe=MemoryStore())
def jobs(req: func.HttpRequest) -> func.HttpResponse:
    if req.get_json().get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")  # 489: QStash stops retrying
    return handled(get_message(req))
