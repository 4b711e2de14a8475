"""template.yaml's duplicate-guard table and the jobs function: the table is the one
Powertools Idempotency documents, and the IAM the function gets is exactly what PowertoolsStore
calls on DynamoDB (recorded from a run against moto: claim, replay binding, renewal, done,
release)."""

from __future__ import annotations

import uuid
from typing import Any

import cfnlint.decode  # type: ignore[import-untyped]
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from store_fixtures import *  # noqa: F403 (fixtures)
from stores import ROOT, dynamodb, idempotency_table

from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore
from qstash_receiver.dedupe import Binding, Claim


def resources() -> dict[str, Any]:
    template, problems = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    assert not problems
    assert template is not None
    found: dict[str, Any] = template["Resources"]
    return found


def test_the_table_is_the_one_powertools_documents() -> None:
    table = resources()["IdempotencyTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_the_jobs_function_uses_the_table_through_powertools_store() -> None:
    function = resources()["JobsFunction"]["Properties"]
    assert function["Environment"]["Variables"]["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    module, name = function["Handler"].split(".")
    source = (ROOT / function["CodeUri"] / f"{module}.py").read_text()
    assert f"@verify_qstash(dedupe=guard_store())\ndef {name}(" in source
    assert "PowertoolsStore(DynamoDBPersistenceLayer(table_name=table))" in source


def test_the_jobs_function_may_do_exactly_what_the_store_does(moto_endpoint: str) -> None:
    policies = resources()["JobsFunction"]["Properties"]["Policies"]
    (statement,) = next(p for p in policies if "Statement" in p)["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    allowed = {action.split(":")[1] for action in statement["Action"]}

    client = dynamodb(moto_endpoint)
    called: set[str] = set()
    client.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: called.add(model.name),
    )
    table = idempotency_table(moto_endpoint, f"idem-{uuid.uuid4().hex[:8]}")
    called.clear()  # creating the table is the test's, not the function's
    store = PowertoolsStore(DynamoDBPersistenceLayer(table_name=table, boto3_client=client))
    jti = Binding(f"jti:{uuid.uuid4().hex}", 60)
    first = store.claim("k1", 30, token="t1", bind=jti)
    assert isinstance(first, Claim)
    assert store.claim("k2", 30, token="t2", bind=jti).replayed  # type: ignore[union-attr]
    renewed = store.extend(first, 30)
    assert renewed is not None
    store.complete(renewed)
    other = store.claim("k3", 30)
    assert isinstance(other, Claim)
    store.release(other)
    assert called == allowed, (called, allowed)
