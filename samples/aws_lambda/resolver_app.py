"""A QStash receiver as a Powertools event handler route, guarded by ``QStashMiddleware``.

``APIGatewayHttpResolver`` serves HTTP API (payload 2.0) and Function URL events; for a REST
API or an ALB, swap in ``APIGatewayRestResolver`` or ``ALBResolver``: nothing else changes.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware, get_message

logger = logging.getLogger("qstash_sample")
logger.setLevel(logging.INFO)  # the Lambda runtime's root logger lets only WARNING through

app = APIGatewayHttpResolver()

# QStash delivers with POST by default, but a publisher may choose GET, PUT, PATCH or DELETE.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@app.route("/qstash", method=METHODS, middlewares=[QStashMiddleware()])
def qstash() -> dict[str, Any]:
    """Answer a verified delivery with the sample contract's JSON."""
    message = get_message(app)
    logger.info("handled %s", message.message_id)
    return {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "lambda",
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return app.resolve(event, context)
