"""The pytest plugin (``qstash_receiver.pytest_plugin``): ``qstash_env`` and ``qstash_signer``.

The fixtures are used here directly (the editable install registers the plugin, as a wheel
does), and inside inner pytest runs (``pytester``) for what only a whole session shows: the
plugin loads without ``-p``, the environment is restored, and receivers cached by an app are
not stale. The wheel in a project outside the repository: tests/test_packaging.py.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import fastapi.testclient
import pytest
from verdicts import check_request

import qstash_receiver.adapters.fastapi
import qstash_receiver.adapters.flask
from qstash_receiver import (
    BodyMismatchError,
    InvalidSignatureError,
    QStashConfig,
    Receiver,
    UrlMismatchError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.pytest_plugin import QStashSigner
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign

pytest_plugins = ["pytester"]

# The inner sessions run in this process, and pytester drops the modules each one imported
# when it ends. Loaded here, the apps' frameworks stay loaded whole: a FastAPI imported again
# beside Starlette modules that stayed (the default-receiver test loads adapters._asgi) sends
# every request into a 307 redirect loop.
LOADED_FOR_INNER_SESSIONS = (
    fastapi.testclient,
    qstash_receiver.adapters.fastapi,
    qstash_receiver.adapters.flask,
)

TESTING_PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.md"

URL = "https://example.com/api/qstash"
BODY = b'{"order_id": 4217}'
FORGED_KEY = "sig_forgedByMallory0000000000000"
SECRETS = [value for name, value in DEMO_ENV.items() if name.endswith(("_KEY", "_TOKEN"))]


def verify(headers: Mapping[str, str], body: bytes = BODY, url: str | None = URL) -> None:
    """Verify a delivery's signature with a ``Receiver()`` reading the process environment."""
    Receiver().verify(
        signature=headers["Upstash-Signature"],
        body=body,
        url=url,
        upstash_region=headers.get("Upstash-Region"),
    )


def delivered(headers: Mapping[str, str], body: bytes = BODY) -> VerifiedMessage:
    """The whole delivery (signature and headers) as an adapter checks it, with ``Receiver()``."""
    result = check_request(Receiver(), headers, body, url=URL)
    assert isinstance(result, VerifiedMessage), result
    return result


# --- the fixtures, used directly -----------------------------------------------------------


def test_qstash_env_puts_the_demo_environment_in_os_environ(
    qstash_env: Mapping[str, str],
) -> None:
    assert dict(qstash_env) == dict(DEMO_ENV)
    assert {name: os.environ.get(name) for name in DEMO_ENV} == dict(DEMO_ENV)
    config = load_config()  # the process environment
    assert config.primary_region == "US_EAST_1"
    assert config.select_keys("EU-CENTRAL-1")[0].current.reveal() == DEMO_KEYS["EU_CENTRAL_1"][0]


@pytest.mark.parametrize(
    ("region", "key_region"),
    [
        (None, "US_EAST_1"),
        ("US_EAST_1", "US_EAST_1"),
        ("EU_CENTRAL_1", "EU_CENTRAL_1"),
        ("eu-central-1", "EU_CENTRAL_1"),
    ],
)
def test_signed_headers_verify_with_a_receiver_reading_the_environment(
    qstash_signer: QStashSigner, region: str | None, key_region: str
) -> None:
    headers = qstash_signer.headers(BODY, url=URL, region=region)
    assert set(headers) == {
        "Upstash-Signature",
        "Upstash-Region",
        "Upstash-Message-Id",
        "Upstash-Retried",
        "User-Agent",
    }
    assert headers["Upstash-Region"] == key_region.replace("_", "-")
    assert headers["Upstash-Message-Id"].startswith("msg_")
    assert (headers["Upstash-Retried"], headers["User-Agent"]) == ("0", "Upstash-QStash")
    message = delivered(headers)
    assert (message.key_region, message.key_used) == (key_region, "current")
    assert message.message_id == headers["Upstash-Message-Id"]


def test_message_id_and_retries_are_sent_as_given(qstash_signer: QStashSigner) -> None:
    headers = qstash_signer.headers("text body", url=URL, message_id="msg_given", retried=3)
    assert (headers["Upstash-Message-Id"], headers["Upstash-Retried"]) == ("msg_given", "3")
    message = delivered(headers, b"text body")
    assert (message.message_id, message.retried) == ("msg_given", 3)


def test_each_delivery_gets_its_own_message_id(qstash_signer: QStashSigner) -> None:
    ids = {qstash_signer.headers(BODY, url=URL)["Upstash-Message-Id"] for _ in range(10)}
    assert len(ids) == 10


def test_wrong_region_forged_and_tampered_deliveries_are_refused(
    qstash_signer: QStashSigner,
) -> None:
    # Signed as EU_CENTRAL_1 but claiming US_EAST_1: the US keys do not match.
    wrong_region = qstash_signer.headers(BODY, url=URL, region="EU_CENTRAL_1")
    wrong_region["Upstash-Region"] = "US-EAST-1"
    with pytest.raises(InvalidSignatureError):
        verify(wrong_region)
    forged = qstash_signer.headers(BODY, url=URL)
    forged["Upstash-Signature"] = sign(BODY, key=FORGED_KEY, url=URL)
    with pytest.raises(InvalidSignatureError):
        verify(forged)
    with pytest.raises(BodyMismatchError):
        verify(qstash_signer.headers(BODY, url=URL), BODY + b" ")
    with pytest.raises(UrlMismatchError):
        verify(qstash_signer.headers(BODY, url="https://elsewhere.example/"))


def test_the_signer_refuses_unknown_regions_without_showing_a_key() -> None:
    signer = QStashSigner(DEMO_ENV)
    with pytest.raises(ValueError, match="unknown QStash region 'AP_SOUTH_1'"):
        signer.headers(BODY, url=URL, region="AP_SOUTH_1")
    us_only = {k: v for k, v in DEMO_ENV.items() if not k.startswith("EU_CENTRAL_1_")}
    with pytest.raises(ValueError, match="no EU_CENTRAL_1_QSTASH_CURRENT_SIGNING_KEY") as error:
        QStashSigner(us_only).headers(BODY, url=URL, region="EU_CENTRAL_1")
    assert not [s for s in SECRETS if s in str(error.value)]
    with pytest.raises(ValueError, match="QSTASH_REGION"):
        QStashSigner({k: v for k, v in DEMO_ENV.items() if k != "QSTASH_REGION"})
    assert QStashSigner({**DEMO_ENV, "QSTASH_REGION": "eu-central-1"}).primary_region == (
        "EU_CENTRAL_1"
    )


def test_no_key_or_token_in_a_repr(
    qstash_env: Mapping[str, str], qstash_signer: QStashSigner
) -> None:
    shown = repr(qstash_env) + repr(qstash_signer) + str(qstash_env) + str(qstash_signer)
    assert SECRETS  # the check below has something to look for
    assert [s for s in SECRETS if s in shown] == []
    assert "QSTASH_REGION': 'US_EAST_1'" in repr(qstash_env)
    assert repr(qstash_signer) == (
        "QStashSigner(primary_region='US_EAST_1', regions=['EU_CENTRAL_1', 'US_EAST_1'])"
    )


@pytest.mark.parametrize(
    "module",
    [
        "qstash_receiver.adapters._asgi",
        "qstash_receiver.adapters.django.settings",
        "qstash_receiver.adapters.flask.verification",
    ],
)
def test_the_fixture_resets_the_default_receiver_apps_share(
    module: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI and Starlette share _asgi's, Django views settings', Flask views without the
    # extension verification's; a stand-in of the same kind, over a source that counts.
    loads: list[int] = []

    def source() -> QStashConfig:
        loads.append(1)
        return load_config(dict(DEMO_ENV))

    shared = Receiver(source=source)
    monkeypatch.setattr(importlib.import_module(module), "default_receiver", shared)
    before = shared.config
    assert shared.config is before
    assert len(loads) == 1
    request.getfixturevalue("qstash_env")
    assert shared.config is not before
    assert len(loads) == 2


def test_importing_the_package_does_not_import_pytest_or_the_plugin() -> None:
    code = (
        "import json, sys\n"
        "import qstash_receiver, qstash_receiver.testing, qstash_receiver.integration\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith(('pytest', '_pytest'))"
        " or n == 'qstash_receiver.pytest_plugin')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


# --- whole inner sessions (pytester) -------------------------------------------------------

INI = "[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n"
# In this process Django may be configured already (tests/django_adapter): pytest-django,
# loaded by every inner session, would set up its test environment a second time.
NO_DJANGO = ("-p", "no:django")

ENVIRONMENT_TESTS = """
import os

def test_before_the_fixture_nothing_changed():
    assert os.environ["QSTASH_DEV"] == "1"
    assert os.environ["QSTASH_CURRENT_SIGNING_KEY"] == "sig_outerCurrent000000000000000"
    assert "QSTASH_REGION" not in os.environ

def test_the_fixture_sets_the_demo_environment_alone(qstash_env):
    assert {k: v for k, v in os.environ.items() if "QSTASH" in k} == dict(qstash_env)
    assert "K_SERVICE" not in os.environ
    assert os.environ["UNRELATED_SETTING"] == "kept"

def test_after_the_fixture_everything_is_back():
    assert os.environ["QSTASH_DEV"] == "1"
    assert os.environ["US_EAST_1_QSTASH_URL"] == "https://outer.example"
    assert os.environ["K_SERVICE"] == "outer-service"
    assert "QSTASH_REGION" not in os.environ
"""

OUTER_ENV = {
    "QSTASH_DEV": "1",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_outerCurrent000000000000000",
    "QSTASH_NEXT_SIGNING_KEY": "sig_outerNext000000000000000000",
    "QSTASH_SIGNING_KEYS_SECRET": "outer-secret-name",
    "US_EAST_1_QSTASH_URL": "https://outer.example",
    "K_SERVICE": "outer-service",
    "UNRELATED_SETTING": "kept",
}


def test_the_plugin_loads_without_p_and_restores_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QSTASH_REGION", raising=False)
    for name, value in OUTER_ENV.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    pytester.makeini(INI)
    pytester.makepyfile(test_plugin_environment=ENVIRONMENT_TESTS)
    result = pytester.runpytest(*NO_DJANGO)
    result.assert_outcomes(passed=3)
    after = dict(os.environ)
    for run in (before, after):  # set by pytest itself, inner and outer
        run.pop("PYTEST_CURRENT_TEST", None)
    assert after == before


def test_without_the_plugin_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    # The plugin is the entry point named qstash_receiver: -p no:qstash_receiver drops it.
    pytester.makeini(INI)
    pytester.makepyfile(test_plugin_disabled=ENVIRONMENT_TESTS)
    result = pytester.runpytest(*NO_DJANGO, "-p", "no:qstash_receiver", "-k", "alone")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'qstash_env' not found*"])


APP_TESTS = """
import json

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask, jsonify

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.fastapi import install, verified_message
from qstash_receiver.adapters.flask import current_message, verify_qstash
from qstash_receiver.testing import signed_headers

# Module-level apps with the adapters' default receivers, as users write them.
flask_app = Flask(__name__)

@flask_app.post("/hook")
@verify_qstash
def flask_hook():
    return jsonify(region=current_message().key_region)

fastapi_app = FastAPI()
install(fastapi_app)

@fastapi_app.post("/hook")
def fastapi_hook(message: VerifiedMessage = Depends(verified_message)):
    return {"region": message.key_region}

BODY = b'{"order_id": 4217}'
OWN_KEYS = ("sig_ownCurrent000000000000000000", "sig_ownNext000000000000000000000")

def post(kind, headers, body=BODY):
    if kind == "flask":
        response = flask_app.test_client().post("/hook", data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)
    response = TestClient(fastapi_app).post("/hook", content=body, headers=headers)
    return response.status_code, response.text

@pytest.fixture
def own_keys(monkeypatch):
    # An environment of the test's own (single-region), not the plugin's.
    for name in ("QSTASH_REGION", "QSTASH_DEV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QSTASH_CURRENT_SIGNING_KEY", OWN_KEYS[0])
    monkeypatch.setenv("QSTASH_NEXT_SIGNING_KEY", OWN_KEYS[1])

def test_1_fastapi_with_own_keys_first(own_keys):
    assert post("fastapi", signed_headers(BODY, key=OWN_KEYS[0]))[0] == 200

@pytest.mark.parametrize("kind", ["flask", "fastapi"])
@pytest.mark.parametrize("region", ["US_EAST_1", "EU_CENTRAL_1"])
def test_2_both_regions_with_the_fixtures(kind, region, qstash_signer):
    headers = qstash_signer.headers(BODY, url="http://localhost/hook", region=region)
    status, text = post(kind, headers)
    assert (status, json.loads(text)) == (200, {"region": region})

@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_3_wrong_region_and_tampered_are_refused(kind, qstash_signer):
    headers = qstash_signer.headers(BODY, url="http://localhost/hook", region="EU_CENTRAL_1")
    assert post(kind, headers, BODY + b" ") == (401, "401 Unauthorized: body_mismatch")
    headers["Upstash-Region"] = "US-EAST-1"
    assert post(kind, headers) == (401, "401 Unauthorized: invalid_signature")

def test_4_fastapi_with_own_keys_after(own_keys):
    assert post("fastapi", signed_headers(BODY, key=OWN_KEYS[0]))[0] == 200
"""


def test_apps_with_default_receivers_see_the_fixtures_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The FastAPI default receiver is shared by the process: built in test 1 from the test's
    # own keys, it must be rebuilt for test 2 (the fixture's keys) and again for test 4.
    monkeypatch.setenv("QSTASH_DEV", "1")  # what a developer's shell may hold
    pytester.makeini(INI)
    pytester.makepyfile(test_plugin_apps=APP_TESTS)
    result = pytester.runpytest(*NO_DJANGO)
    result.assert_outcomes(passed=8)


def test_an_inner_failure_is_reported(pytester: pytest.Pytester) -> None:
    # The inner runs above can fail: a refused delivery expected to pass fails the run.
    pytester.makeini(INI)
    broken = APP_TESTS.replace(
        "assert post(kind, headers) == (401,", "assert post(kind, headers) == (200,"
    )
    assert broken != APP_TESTS
    pytester.makepyfile(test_plugin_apps_broken=broken)
    result = pytester.runpytest(*NO_DJANGO, "-k", "wrong_region")
    result.assert_outcomes(failed=2)


def doc_snippet(name: str) -> str:
    """The ```python block after ``<!-- snippet: NAME -->`` in docs/testing.md."""
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)\n```",
        TESTING_PAGE.read_text(),
        re.S,
    )
    assert found is not None, f"no snippet {name!r} in docs/testing.md"
    return found.group(1)


@pytest.mark.parametrize("name", ["pytest-flask", "pytest-fastapi"])
def test_the_documented_examples_pass_as_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("QSTASH_DEV", "1")  # set aside by the fixtures
    pytester.makeini(INI)
    pytester.makepyfile(**{f"test_{name.replace('-', '_')}_page": doc_snippet(name)})
    pytester.runpytest(*NO_DJANGO).assert_outcomes(passed=2)
