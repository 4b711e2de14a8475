"""A QStash receiver on AWS Lambda with the plain decorator (deployed by ``template.yaml``).

Behind an HTTP API, a REST API, a Function URL or an ALB: the decorator recognises the event
and answers rejections in its shape. Configuration comes from the environment only
(``QSTASH_REGION`` and the signing keys, or ``QSTASH_SIGNING_KEYS_SECRET``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash

logger = logging.getLogger("qstash_sample")
logger.setLevel(logging.INFO)  # the Lambda runtime's root logger lets only WARNING through


@verify_qstash
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer a verified delivery with the sample contract's JSON."""
    message = get_message(event)
    logger.info("handled %s", message.message_id)
    answer = {
        "ok": True,
        "message_id": message.message_id,
        "key_region": message.key_region,
        "platform": "lambda",
    }
    return http_response(
        event, 200, json.dumps(answer), headers={"Content-Type": "application/json"}
    )
