"""QStash deliveries to a Litestar app behind the framework-neutral ASGI middleware.

The middleware verifies every request to ``/qstash`` and ``/jobs`` before Litestar routes it
(any ASGI app works the same way: Quart, Django's ASGI handler, a plain callable).
Configuration comes from the environment: ``QSTASH_REGION`` plus both regions' signing keys
for migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Serve it
with::

    uvicorn app:application --app-dir samples/asgi_app --host 127.0.0.1 --port 8000

``/jobs`` handles each message once (the duplicate-delivery guard in this process's memory:
one worker process) and refuses a job that can never succeed with 489.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from litestar import Litestar, Request, route
from litestar.response import Response

from qstash_receiver import NonRetryableError, RetryLater, VerifiedMessage
from qstash_receiver.adapters.asgi import QStashMiddleware, get_message
from qstash_receiver.dedupe import MemoryStore

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")  # Litestar sets its own format for the root logger

Delivery = Request[Any, Any, Any]


def handled(message: VerifiedMessage) -> dict[str, Any]:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "asgi",
    }


# QStash delivers with POST by default; a message may ask for any of these methods.
@route("/qstash", http_method=["GET", "POST", "PUT", "PATCH", "DELETE"], status_code=200)
async def receive(request: Delivery) -> dict[str, Any]:
    return handled(get_message(request.scope))


@route("/jobs", http_method=["POST"], status_code=200)
async def job(request: Delivery) -> dict[str, Any]:
    message = get_message(request.scope)
    body = json.loads(await request.body() or b"null")  # the verified body, replayed
    if isinstance(body, dict) and body.get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")  # 489: straight to the DLQ
    return handled(message)


def reraise(request: Delivery, error: Exception) -> Response[Any]:
    """Hand ``NonRetryableError`` and ``RetryLater`` on to the middleware (489 / 503)."""
    raise error


app = Litestar([receive, job], exception_handlers={NonRetryableError: reraise, RetryLater: reraise})

# /qstash verified; /jobs verified with the duplicate guard (one middleware each).
application = QStashMiddleware(
    QStashMiddleware(app, paths=["/jobs"], dedupe=MemoryStore()), paths=["/qstash"]
)
