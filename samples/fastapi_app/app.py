"""QStash deliveries to a FastAPI app, verified in single-region or migration mode.

Configuration comes from the environment: ``QSTASH_REGION`` plus both regions' signing keys for
migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Two ways in:
``/qstash`` takes the message as a dependency; every path below ``/tasks`` is verified by the
Starlette middleware before routing. Serve it with::

    uvicorn app:app --app-dir samples/fastapi_app --host 127.0.0.1 --port 8000
"""

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.fastapi import get_message, install, verified_message
from qstash_receiver.adapters.starlette import QStashMiddleware

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")

#: QStash delivers with POST by default; a message may ask for any of these methods.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

app = FastAPI(title="qstash-receiver FastAPI sample")
install(app)  # rejections answer text/plain, as every adapter does
# Every request below /tasks is verified before it reaches a route.
app.add_middleware(QStashMiddleware, paths=["/tasks"])

Verified = Annotated[VerifiedMessage, Depends(verified_message)]


def handled(message: VerifiedMessage) -> dict[str, Any]:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "fastapi",
    }


async def receive(message: Verified) -> dict[str, Any]:
    return handled(message)


for method in METHODS:  # one route per method: each its own OpenAPI operation
    app.add_api_route("/qstash", receive, methods=[method], name=f"receive_{method.lower()}")


@app.post("/tasks/{name}")
async def run_task(name: str, request: Request) -> dict[str, Any]:
    order = await request.json()  # the verified body, replayed by the middleware
    logger.info("task %s for order %s", name, order.get("order_id"))
    return handled(get_message(request))
