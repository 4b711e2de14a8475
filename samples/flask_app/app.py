"""QStash deliveries to a Flask app, verified in single-region or migration mode.

Configuration comes from the environment (or the same ``QSTASH_*`` names in ``app.config``):
``QSTASH_REGION`` plus both regions' signing keys for migration mode, or
``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Serve it with::

    gunicorn -b 127.0.0.1:8000 app:app --chdir samples/flask_app

``/jobs`` handles each message once (the duplicate-delivery guard, in the Redis at
``REDIS_URL``, or in this process's memory without it: then serve it with one worker) and
refuses a job that can never succeed with 489 (QStash dead-letters it); ``/callbacks``
receives QStash's callbacks and failure callbacks.
"""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Flask, Response, jsonify, request

from qstash_receiver import NonRetryableError, VerifiedMessage
from qstash_receiver.adapters.flask import QStash, current_message, verify_qstash
from qstash_receiver.callbacks import parse_callback
from qstash_receiver.dedupe import MemoryStore, RedisStore

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logger = logging.getLogger("qstash_sample")

#: QStash delivers with POST by default; a message may ask for any of these methods.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

app = Flask(__name__)
qstash = QStash(app)  # QSTASH_* from app.config, falling back to the environment


def handled(message: VerifiedMessage) -> Response:
    """The answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return jsonify(
        ok=True, message_id=message.message_id, key_region=message.key_region, platform="flask"
    )


@app.route("/qstash", methods=METHODS)
@verify_qstash
def receive() -> Response:
    return handled(current_message())


# Every view of this blueprint is verified, without a decorator on each.
tasks = Blueprint("tasks", __name__, url_prefix="/tasks")
qstash.protect(tasks)


@tasks.post("/<name>")
def run_task(name: str) -> Response:
    order = request.get_json(silent=True) or {}  # the verified body, still readable
    logger.info("task %s for order %s", name, order.get("order_id"))
    return handled(current_message())


app.register_blueprint(tasks)


def guard_store() -> MemoryStore | RedisStore:
    """The guard's store: the Redis at ``REDIS_URL`` (shared by every worker and host), else
    this process's memory (one worker only: another process would not see its claims)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return MemoryStore()
    import redis  # pip install "qstash-receiver[flask,redis]"

    return RedisStore(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))


@app.post("/jobs")
@verify_qstash(dedupe=guard_store())
def job() -> Response:
    message = current_message()
    job = request.get_json(silent=True)
    if isinstance(job, dict) and job.get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")  # 489: straight to the DLQ
    return handled(message)


@app.post("/callbacks")
@verify_qstash
def callback() -> Response:
    report = parse_callback(current_message())  # 489 for a body that is not a callback
    kind = "failure callback" if report.is_failure else "callback"
    logger.info(
        "%s for %s: status %d, dlq %s", kind, report.source_message_id, report.status,
        report.dlq_id,
    )  # fmt: skip
    return Response("ok", mimetype="text/plain")
