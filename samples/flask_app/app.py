"""QStash deliveries to a Flask app, verified in single-region or migration mode.

Configuration comes from the environment (or the same ``QSTASH_*`` names in ``app.config``):
``QSTASH_REGION`` plus both regions' signing keys for migration mode, or
``QSTASH_CURRENT_SIGNING_KEY``/``QSTASH_NEXT_SIGNING_KEY``. Serve it with::

    gunicorn -b 127.0.0.1:8000 app:app --chdir samples/flask_app
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.flask import QStash, current_message, verify_qstash

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
