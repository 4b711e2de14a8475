"""A QStash receiver on AWS Lambda with the plain decorator (deployed by ``template.yaml``).

Behind an HTTP API, a REST API, a Function URL or an ALB: the decorator recognises the event
and answers rejections in its shape. Configuration comes from the environment only
(``QSTASH_REGION`` and the signing keys, or ``QSTASH_SIGNING_KEYS_SECRET``).

``jobs`` handles each message once: the duplicate-delivery guard keeps its state in the
DynamoDB table ``IDEMPOTENCY_TABLE`` through Powertools Idempotency's persistence layer (or,
without it, in the instance's memory: fine for one local process, not for Lambda's many
instances). ``callbacks`` receives QStash's callbacks and failure callbacks.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from qstash_receiver import NonRetryableError, VerifiedMessage
from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash
from qstash_receiver.callbacks import parse_callback
from qstash_receiver.dedupe import DedupeStore, MemoryStore

logger = logging.getLogger("qstash_sample")
logger.setLevel(logging.INFO)  # the Lambda runtime's root logger lets only WARNING through


def handled(event: dict[str, Any], message: VerifiedMessage) -> dict[str, Any]:
    """The sample contract's JSON answer to a verified delivery (and its log line)."""
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


@verify_qstash
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer a verified delivery with the sample contract's JSON."""
    return handled(event, get_message(event))


def guard_store() -> DedupeStore:
    """Powertools' DynamoDB layer over ``IDEMPOTENCY_TABLE``, else this instance's memory."""
    table = os.environ.get("IDEMPOTENCY_TABLE")
    if not table:
        return MemoryStore()
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore

    return PowertoolsStore(DynamoDBPersistenceLayer(table_name=table))


@verify_qstash(dedupe=guard_store())
def jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A job handled once per message; one that can never succeed is refused with 489."""
    message = get_message(event)
    try:
        job = message.json()
    except ValueError as error:  # a body no retry will fix: 489, straight to the DLQ
        raise NonRetryableError("the job is not JSON") from error
    if isinstance(job, dict) and job.get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")
    return handled(event, message)


@verify_qstash
def callbacks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """QStash's report on a delivery (a callback, or a failure callback with its DLQ id)."""
    report = parse_callback(get_message(event))  # 489 for a body that is not a callback
    kind = "failure callback" if report.is_failure else "callback"
    logger.info(
        "%s for %s: status %d, dlq %s", kind, report.source_message_id, report.status,
        report.dlq_id,
    )  # fmt: skip
    return http_response(event, 200, "ok")
