"""The README's and the docs' code snippets run as they are written.

A snippet is the ```python (or ```js) block after a ``<!-- snippet: NAME -->`` line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import request_uri

import functions_framework
import pytest
from destination import Destination, destination
from fastapi.testclient import TestClient
from flask import Flask
from verdicts import check_request
from werkzeug.test import Client

from qstash_receiver import ConfigError, Receiver, SignatureError, VerifiedMessage, load_config
from qstash_receiver.adapters.aws_lambda.testing import event_with, signed_event
from qstash_receiver.cli import dev as dev_command
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

ROOT = Path(__file__).resolve().parents[1]
KEY, NEXT_KEY = DEMO_KEYS["US_EAST_1"]
BODY = b'{"order_id": 42}'
JSON = "application/json"


def snippet(path: Path, name: str, language: str = "python") -> str:
    """The code of snippet ``name`` in ``path``."""
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```{language}\n(.*?)\n```", path.read_text(), re.S
    )
    assert found is not None, f"no snippet {name!r} in {path.name}"
    return found.group(1)


def load(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(code, "<snippet>", "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_core_quickstart_reads_headers_in_any_case_and_answers_every_outcome(page: str) -> None:
    namespace = load(snippet(ROOT / page, "core-quickstart"))
    handle: Callable[[dict[str, str], bytes], tuple[int, str]] = namespace["handle"]
    namespace["receiver"] = Receiver(
        config=load_config({"QSTASH_CURRENT_SIGNING_KEY": KEY, "QSTASH_NEXT_SIGNING_KEY": NEXT_KEY})
    )
    headers = signed_headers(BODY, key=KEY)  # QStash's capitalisation: Upstash-Signature
    assert handle(headers, BODY)[0] == 200
    lower = {name.lower(): value for name, value in headers.items()}
    assert handle(lower, BODY)[0] == 200
    assert handle(headers, BODY + b" ") == (401, "body_mismatch")
    assert handle({}, BODY) == (401, "missing_signature")
    # No usable keys: a retryable answer, not an exception escaping the handler.
    namespace["receiver"] = Receiver(config=load_config({}))
    assert handle(headers, BODY) == (500, "configuration_error")


def test_the_quickstart_is_the_same_in_the_readme_and_the_docs() -> None:
    assert snippet(ROOT / "README.md", "core-quickstart") == snippet(
        ROOT / "docs/index.md", "core-quickstart"
    )


def test_switching_snippet_answers_a_tampered_body_with_401() -> None:
    code = snippet(ROOT / "docs/switching.md", "switching").replace('"sig_..."', "KEY", 1)
    code = code.replace('"sig_..."', "NEXT_KEY", 1)
    namespace = load(f"KEY, NEXT_KEY = {KEY!r}, {NEXT_KEY!r}\n{code}")
    handle: Callable[[str, bytes], int] = namespace["handle"]
    signature = signed_headers(BODY, key=KEY, url="https://example.com/api")["Upstash-Signature"]
    assert handle(signature, BODY) == 200
    assert handle(signature, BODY + b" ") == 401  # caught: qstash_receiver.SignatureError


@pytest.mark.parametrize("page", ["README.md", "docs/switching.md"])
def test_compat_snippet_answers_a_tampered_body_with_401_through_the_sdks_except(
    page: str,
) -> None:
    code = snippet(ROOT / page, "switching-compat")
    assert "from qstash.errors import SignatureError" in code  # the SDK's class is caught
    code = code.replace('"sig_..."', "KEY", 1).replace('"sig_..."', "NEXT_KEY", 1)
    namespace = load(f"KEY, NEXT_KEY = {KEY!r}, {NEXT_KEY!r}\n{code}")
    handle: Callable[[str, bytes], int] = namespace["handle"]
    signature = signed_headers(BODY, key=KEY, url="https://example.com/api")["Upstash-Signature"]
    assert handle(signature, BODY) == 200
    assert handle(signature, BODY + b" ") == 401
    forged = signed_headers(BODY, key=DEMO_KEYS["EU_CENTRAL_1"][0], url="https://example.com/api")
    assert handle(forged["Upstash-Signature"], BODY) == 401


# The README's platform quickstarts, each on its platform's own request path. Their decorators
# use the default receiver, which reads the process environment (on the first request).
@pytest.fixture
def keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if "QSTASH" in name:
            monkeypatch.delenv(name)
    monkeypatch.setenv("QSTASH_CURRENT_SIGNING_KEY", KEY)
    monkeypatch.setenv("QSTASH_NEXT_SIGNING_KEY", NEXT_KEY)


@pytest.mark.usefixtures("keys_in_environment")
def test_readme_lambda_quickstart_answers_in_the_events_shape() -> None:
    handler = load(snippet(ROOT / "README.md", "lambda-quickstart"))["handler"]
    template = json.loads((ROOT / "tests/fixtures/lambda/http_api.json").read_text())
    answer = handler(signed_event(template, BODY, key=KEY), None)
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"ok": True})
    genuine = signed_event(template, BODY, key=KEY)
    tampered = event_with(template, body=b'{"order_id": 43}', headers=genuine["headers"])
    refused = handler(tampered, None)
    assert (refused["statusCode"], refused["body"]) == (401, "401 Unauthorized: body_mismatch")


@pytest.mark.usefixtures("keys_in_environment")
def test_readme_flask_quickstart_reads_the_verified_json() -> None:
    app = load(snippet(ROOT / "README.md", "flask-quickstart"))["app"]
    headers = signed_headers(BODY, key=KEY, message_id="msg_1")
    client = app.test_client()
    response = client.post("/api/qstash", data=BODY, headers=headers, content_type=JSON)
    assert (response.status_code, response.json) == (200, {"ok": True, "order": 42, "id": "msg_1"})
    tampered = client.post("/api/qstash", data=b"{}", headers=headers, content_type=JSON)
    assert (tampered.status_code, tampered.text) == (401, "401 Unauthorized: body_mismatch")


@pytest.mark.usefixtures("keys_in_environment")
def test_readme_gcf_quickstart_under_functions_frameworks_own_app(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(snippet(ROOT / "README.md", "gcf-quickstart") + "\n")
    app: Flask = functions_framework.create_app("qstash_handler", str(source))  # type: ignore[no-untyped-call]
    client = app.test_client()
    headers = signed_headers(BODY, key=KEY, message_id="msg_1")
    response = client.post("/", data=BODY, headers=headers, content_type=JSON)
    assert (response.status_code, response.json) == (200, {"ok": True, "message_id": "msg_1"})
    assert client.post("/", data=BODY, content_type=JSON).status_code == 401


def test_the_adapter_sketch_verifies_refuses_and_limits() -> None:
    verify_wsgi = load(snippet(ROOT / "docs/reference/integration.md", "wsgi-adapter"))[
        "verify_wsgi"
    ]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        message = environ["qstash.message"]
        return [f"{message.message_id} {environ['wsgi.input'].read() == message.body}".encode()]

    receiver = Receiver(KEY, NEXT_KEY)
    client = Client(verify_wsgi(app, receiver=receiver, url=request_uri))  # given the environ
    headers = signed_headers(BODY, key=KEY, url="http://localhost/hook", message_id="msg_1")
    answer = client.post("/hook", data=BODY, headers=headers)
    assert (answer.status_code, answer.text) == (200, "msg_1 True")
    tampered = client.post("/hook", data=BODY + b" ", headers=headers)
    assert (tampered.status_code, tampered.text) == (401, "401 Unauthorized: body_mismatch")
    sibling = client.post("/other", data=BODY, headers=headers)
    assert (sibling.status_code, sibling.text) == (401, "401 Unauthorized: url_mismatch")
    small = Client(verify_wsgi(app, receiver=receiver, max_body_bytes=4))
    assert small.post("/hook", data=BODY, headers=headers).status_code == 413
    with pytest.raises(ValueError, match="clock_tolerance"):
        verify_wsgi(app, clock_tolerance=float("inf"))


@pytest.mark.usefixtures("keys_in_environment")
def test_readme_fastapi_quickstart_through_the_dependency_and_the_middleware() -> None:
    app = load(snippet(ROOT / "README.md", "fastapi-quickstart"))["app"]
    headers = signed_headers(BODY, key=KEY, message_id="msg_1")
    with TestClient(app) as client:
        routed = client.post("/api/qstash", content=BODY, headers=headers)
        assert (routed.status_code, routed.json()) == (
            200,
            {"ok": True, "order": 42, "id": "msg_1"},
        )
        task = client.post("/tasks/bill", content=BODY, headers=headers)
        assert task.json() == {"task": "bill", "order": 42, "id": "msg_1"}
        for path in ("/api/qstash", "/tasks/bill"):
            tampered = client.post(path, content=b'{"order_id": 43}', headers=headers)
            assert (tampered.status_code, tampered.text) == (401, "401 Unauthorized: body_mismatch")


# docs/cli.md: the official clients, and qstash_client, against the stand-in. The snippets
# name the default ports of `qstash-receiver dev` and a local endpoint; here the stand-in runs
# on free ports and the endpoint is a recording server, so those two URLs are swapped in.
CLI_DOCS = ROOT / "docs/cli.md"
ENDPOINT = "http://127.0.0.1:8000/qstash"


def dev_defaults() -> dict[Region, str]:
    """Each region's base URL with the default ports of ``qstash-receiver dev``."""
    parser = argparse.ArgumentParser()
    dev_command.register(parser.add_subparsers())
    args = parser.parse_args(["dev"])
    return {
        "EU_CENTRAL_1": f"http://127.0.0.1:{args.eu_port}",
        "US_EAST_1": f"http://127.0.0.1:{args.us_port}",
    }


@pytest.fixture(scope="module")
def stand_in() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


@pytest.fixture
def endpoint() -> Iterator[Destination]:
    with destination() as place:
        yield place


def delivery_verifies(
    stand_in: DevServer, endpoint: Destination, message_id: str, keys: tuple[str, str]
) -> Region:
    """The delivery of ``message_id`` verifies with ``keys`` (and not the other region's)."""
    attempt = stand_in.wait_for(message_id)
    assert attempt.ok, attempt
    [delivery] = [d for d in endpoint.received if d.headers["upstash-message-id"] == message_id]
    url = endpoint.url("/qstash")
    assert isinstance(
        check_request(Receiver(*keys), delivery.headers, delivery.body, url=url), VerifiedMessage
    )
    [other] = [pair for pair in DEMO_KEYS.values() if pair != keys]
    refused = check_request(Receiver(*other), delivery.headers, delivery.body, url=url)
    assert not isinstance(refused, VerifiedMessage)
    return attempt.region


@pytest.mark.parametrize("region", ["EU_CENTRAL_1", "US_EAST_1"])
def test_the_stand_in_table_states_its_defaults_tokens_and_keys(region: Region) -> None:
    current, nxt = DEMO_KEYS[region]
    token = DEMO_ENV[f"{region}_QSTASH_TOKEN"]
    row = f"| `{region}` | `{dev_defaults()[region]}` | `{token}` | `{current}`, `{nxt}` |"
    assert row in CLI_DOCS.read_text().splitlines()


def test_the_python_sdk_snippet_publishes_to_the_stand_in(
    stand_in: DevServer, endpoint: Destination
) -> None:
    code = snippet(CLI_DOCS, "python-sdk-to-stand-in")
    base = dev_defaults()["US_EAST_1"]
    assert base in code
    assert ENDPOINT in code
    code = code.replace(base, stand_in.url("US_EAST_1")).replace(ENDPOINT, endpoint.url("/qstash"))
    namespace = load(code)
    namespace["client"].http._client.close()  # the SDK offers no close()
    receiver: Receiver = namespace["receiver"]
    fixed = receiver.config.fixed_keys
    assert fixed is not None
    keys = (fixed.current.reveal(), fixed.next.reveal())
    sent = namespace["response"].message_id
    assert delivery_verifies(stand_in, endpoint, sent, keys) == "US_EAST_1"


def test_the_node_sdk_snippet_publishes_to_the_stand_in(
    stand_in: DevServer, endpoint: Destination, tmp_path: Path
) -> None:
    node = shutil.which("node")
    interop = ROOT / "tests/interop/node_modules"
    if node is None or not (interop / "@upstash" / "qstash").is_dir():
        pytest.fail("Node 20 and tests/interop/node_modules are required: run `make node`")
    code = snippet(CLI_DOCS, "node-sdk-to-stand-in", "js")
    base = dev_defaults()["EU_CENTRAL_1"]
    assert base in code
    assert ENDPOINT in code
    code = code.replace(base, stand_in.url("EU_CENTRAL_1")).replace(
        ENDPOINT, endpoint.url("/qstash")
    )
    (tmp_path / "snippet.mjs").write_text(code)
    (tmp_path / "node_modules").symlink_to(interop)  # where the import is resolved from
    done = subprocess.run(
        [node, "snippet.mjs"], cwd=tmp_path, env={"PATH": os.environ.get("PATH", "")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    keys = re.findall(r'(?:current|next)SigningKey: "([^"]+)"', code)
    assert len(keys) == 2
    assert delivery_verifies(stand_in, endpoint, done.stdout.strip(), (keys[0], keys[1])) == (
        "EU_CENTRAL_1"
    )


def test_the_in_tests_snippet_publishes_through_both_regions(endpoint: Destination) -> None:
    code = snippet(CLI_DOCS, "stand-in-in-tests")
    assert ENDPOINT in code
    namespace = load(code.replace(ENDPOINT, endpoint.url("/qstash")))  # it asserts itself
    for client in namespace["clients"].values():
        client.http._client.close()
    assert len(endpoint.at("/qstash")) == 2


def test_the_stored_keys_snippet_reads_rotates_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A secret store is one function: the configuration page's file-backed source verifies with
    the stored pair, takes a rotated one without a restart, logs the resolver's warnings as
    ``Receiver()`` does, and a missing file is a ``ConfigError`` (a retryable 500)."""
    namespace = load(snippet(ROOT / "docs/configuration.md", "stored-keys-file"))
    secret = namespace["SECRET"] = tmp_path / "keys.json"
    receiver: Receiver = namespace["receiver"]
    us, eu = DEMO_KEYS["US_EAST_1"], DEMO_KEYS["EU_CENTRAL_1"]

    def store(pair: tuple[str, ...]) -> None:
        names = ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY")
        secret.write_text(json.dumps(dict(zip(names, pair, strict=False)) | {"other": "x"}))

    def accepts(key: str) -> bool:
        headers = signed_headers(BODY, key=key)
        try:
            receiver.verify(signature=headers["Upstash-Signature"], body=BODY)
        except SignatureError:
            return False
        return True

    with pytest.raises(ConfigError, match=r"cannot read .*keys\.json"):
        receiver.verify(signature=signed_headers(BODY, key=us[0])["Upstash-Signature"], body=BODY)
    store(us)
    assert (accepts(us[0]), accepts(eu[0])) == (True, False)
    store(eu)  # rotated in the store: the next delivery uses it
    assert (accepts(us[0]), accepts(eu[0])) == (False, True)
    secret.write_text('{"QSTASH_CURRENT_SIGNING_KEY": ')  # caught half written
    with pytest.raises(ConfigError, match="does not hold a JSON object"):
        accepts(eu[0])
    caplog.set_level(logging.WARNING, "qstash_receiver")
    store(eu[:1])
    with pytest.raises(ConfigError):
        receiver.verify(signature=signed_headers(BODY, key=eu[0])["Upstash-Signature"], body=BODY)
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("qstash_receiver")]
    assert any("signing key pair is incomplete" in text for text in logged), logged
