"""QStash deliveries to a Falcon app behind the framework-neutral WSGI middleware.

The middleware verifies every request to ``/qstash`` and ``/jobs`` before Falcon routes it
(any WSGI app works the same way: Flask, Django, Bottle, Pyramid, a plain callable).
Configuration comes from the environment: ``QSTASH_REGION`` plus both regions' signing keys
for migration mode, or ``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Serve it
with::

    gunicorn -b 127.0.0.1:8000 app:application --chdir samples/wsgi_app

``/jobs`` handles each message once (the duplicate-delivery guard in this process's memory:
one worker process, any number of threads) and refuses a job that can never succeed with 489.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import falcon

from qstash_receiver import NonRetryableError, RetryLater, VerifiedMessage
from qstash_receiver.adapters.wsgi import QStashMiddleware, get_message
from qstash_receiver.dedupe import MemoryStore

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")


def handled(message: VerifiedMessage, resp: falcon.Response) -> None:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    resp.media = {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "wsgi",
    }


class Receive:
    """``/qstash``: any method QStash may deliver with."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        handled(get_message(req.env), resp)

    on_get = on_put = on_patch = on_delete = on_post


class Job:
    """``/jobs``: each message once; ``{"case": "non-retryable"}`` is refused for good."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        message = get_message(req.env)
        job = json.loads(req.bounded_stream.read() or b"null")  # the verified body, replayed
        if isinstance(job, dict) and job.get("case") == "non-retryable":
            raise NonRetryableError("this job can never succeed")  # 489: straight to the DLQ
        handled(message, resp)


def reraise(req: falcon.Request, resp: falcon.Response, error: Exception, params: Any) -> None:
    """Hand ``NonRetryableError`` and ``RetryLater`` on to the middleware (489 / 503)."""
    raise error


app: falcon.App[falcon.Request, falcon.Response] = falcon.App()
app.add_route("/qstash", Receive())
app.add_route("/jobs", Job())
app.add_error_handler(NonRetryableError, reraise)
app.add_error_handler(RetryLater, reraise)

# /qstash verified; /jobs verified with the duplicate guard (one middleware each).
application = QStashMiddleware(
    QStashMiddleware(app, paths=["/jobs"], dedupe=MemoryStore()), paths=["/qstash"]
)
