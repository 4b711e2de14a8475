"""The Lambda guard-test handler, with Powertools' DynamoDB persistence layer (on moto):
``python -m qstash_receiver.cli.lambda_bridge --handler tests/guard_apps/guard_lambda.py:handler``.

``MOTO_URL`` is moto's endpoint and ``IDEMPOTENCY_TABLE`` the table.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from guard_common import LEASE, handle

from qstash_receiver.adapters.aws_lambda import get_message, http_response, verify_qstash
from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore

client = boto3.client("dynamodb", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1")
layer = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=client)


@verify_qstash(dedupe=PowertoolsStore(layer, lease=LEASE))
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    status, text = handle(get_message(event))
    return http_response(event, status, text)
