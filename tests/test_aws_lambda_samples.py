"""The Lambda samples, run as a user would: from environment variables only, in subprocesses.

``handler.py`` gets every event shape; ``resolver_app.py`` the payload 2.0 shapes its
``APIGatewayHttpResolver`` serves; both also behind the local HTTP bridge the demo uses.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cfnlint.decode  # type: ignore[import-untyped]  # the decoder cfn-lint parses with
import pytest
from lambda_samples import invoke
from qstash_demo.services import serving

from qstash_receiver.adapters.aws_lambda.testing import signed_event
from qstash_receiver.names import Region
from qstash_receiver.pytest_plugin import QStashSigner
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "samples" / "aws_lambda"
FIXTURES = ROOT / "tests" / "fixtures" / "lambda"
PAYLOAD = (SAMPLE / "payload.json").read_bytes()
REGIONS: tuple[Region, ...] = ("EU_CENTRAL_1", "US_EAST_1")
SHAPES = ["apigateway_rest", "http_api", "function_url", "alb", "alb_multi_value"]
V2_SHAPES = ["http_api", "function_url"]


def sample_env(**extra: str) -> dict[str, str]:
    """A process environment with no QStash settings but DEMO_ENV's (migration mode)."""
    keep = {k: v for k, v in os.environ.items() if "QSTASH" not in k and not k.startswith("AWS_")}
    return {**keep, **DEMO_ENV, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def fixture(shape: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"{shape}.json").read_text())
    return event


def contract(answer: dict[str, Any], region: Region, message_id: str) -> None:
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {
        "ok": True,
        "message_id": message_id,
        "key_region": region,
        "platform": "lambda",
    }


@pytest.mark.parametrize(
    ("entry", "shapes"),
    [("handler:handler", SHAPES), ("resolver_app:lambda_handler", V2_SHAPES)],
    ids=["handler", "resolver_app"],
)
def test_samples_accept_both_regions_and_reject_forgeries(entry: str, shapes: list[str]) -> None:
    events, expected = [], []
    for shape in shapes:
        for region in REGIONS:
            message_id = f"msg_{shape}_{region}"
            key = DEMO_KEYS[region][0]
            good = signed_event(
                fixture(shape), PAYLOAD, key=key, region=region, message_id=message_id
            )
            # signed with the EU key but claiming the US region
            forged = signed_event(
                fixture(shape), PAYLOAD, key=DEMO_KEYS[REGIONS[0]][0], region="US_EAST_1"
            )
            events += [good, forged]
            expected += [(region, message_id), None]
    answers, log = invoke(entry, events, sample_env())
    for answer, want in zip(answers, expected, strict=True):
        if want is None:
            assert answer["statusCode"] == 401
            assert answer["body"] == "401 Unauthorized: invalid_signature"
        else:
            contract(answer, *want)
            assert f"qstash_sample handled {want[1]}\n" in log  # the contract's log line


def test_bad_environment_answers_500_per_request_not_at_import() -> None:
    env = sample_env(QSTASH_DEV="1", AWS_LAMBDA_FUNCTION_NAME="qstash-sample")  # refused
    event = signed_event(fixture("http_api"), PAYLOAD, key=DEMO_KEYS["US_EAST_1"][0])
    for entry in ("handler:handler", "resolver_app:lambda_handler"):
        answers, log = invoke(entry, [event, event], env)
        assert [a["statusCode"] for a in answers] == [500, 500]
        assert "dev mode is refused on AWS Lambda" in log


@pytest.fixture(params=["handler.py:handler", "resolver_app.py:lambda_handler"])
def bridge(request: pytest.FixtureRequest) -> Iterator[str]:
    """The demo's local HTTP-to-Lambda bridge serving one sample on a free port."""

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "qstash_receiver.cli.lambda_bridge", "--port", str(port),
                "--handler", f"samples/aws_lambda/{request.param}"]  # fmt: skip

    # Ready once it answers at all (401 here: the probe is unsigned).
    with serving("bridge", command, env=sample_env(), cwd=ROOT, ready_path="/qstash") as bridge:
        yield bridge.url + "/qstash"


def post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_samples_over_http_through_the_bridge(bridge: str, qstash_signer: QStashSigner) -> None:
    for region in REGIONS:
        headers = qstash_signer.headers(PAYLOAD, url=bridge, region=region, message_id="m1")
        status, text = post(bridge, PAYLOAD, headers)
        contract({"statusCode": status, "body": text}, region, "m1")
        assert post(bridge, PAYLOAD + b"\n", headers) == (401, "401 Unauthorized: body_mismatch")
    schedule = signed_headers(b"", key=DEMO_KEYS["US_EAST_1"][1], region="US_EAST_1")
    assert post(bridge, b"", schedule, method="GET")[0] == 200


def test_template_deploys_this_sample_with_least_privilege() -> None:
    template, problems = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    assert not problems
    assert template is not None
    function = template["Resources"]["QStashFunction"]["Properties"]
    assert function["Runtime"] == "python3.12"
    module, name = function["Handler"].split(".")
    code_dir = ROOT / function["CodeUri"]
    assert (code_dir / f"{module}.py").read_text().count(f"def {name}(") == 1
    requirements = (code_dir / "requirements.txt").read_text().splitlines()
    assert {"--find-links ../../dist", "qstash-receiver[lambda]"} <= set(requirements)
    events = {e["Type"] for e in function["Events"].values()}
    assert events == {"HttpApi", "Api"}
    assert function["FunctionUrlConfig"]["AuthType"] == "NONE"
    assert function["Policies"] == [
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "SigningKeysSecret"}}}
    ]
    assert function["Environment"]["Variables"]["QSTASH_SIGNING_KEYS_SECRET"] == {
        "Ref": "SigningKeysSecret"
    }
    secret_string = template["Resources"]["SigningKeysSecret"]["Properties"]["SecretString"]
    for name, parameter in template["Parameters"].items():
        if name.endswith("SigningKey"):
            assert parameter["NoEcho"] is True
            assert f"${{{name}}}" in secret_string["Fn::Sub"]
    assert set(template["Outputs"]) >= {"HttpApiEndpoint", "RestApiEndpoint", "FunctionUrlEndpoint"}
    # Binary bodies reach the REST API integration base64-encoded, unaltered.
    assert template["Globals"]["Api"]["BinaryMediaTypes"] == ["*~1*"]
