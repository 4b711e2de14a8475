"""``WorkflowReceiver``: alone, and as ``receiver=`` of upstash-workflow's Flask ``Serve``,
driven through the SDK's own serve path with signed requests as QStash sends them. After a
request it accepts, the SDK calls QStash's API back; that goes to a loopback stand-in of those
two calls (``qstash_demo.workflow_api``): nothing of ours is mocked."""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from qstash import QStash
from qstash import Receiver as SdkReceiver
from qstash_demo.workflow_api import WorkflowApi, workflow_api
from stack_cases import (
    BINARY_BODY,
    FORGER_KEY,
    JSON_BODY,
    MIGRATION,
    MODE_REGION_IDS,
    MODE_REGIONS,
    MODES,
    SINGLE,
    URL,
    Mode,
    other,
)
from upstash_workflow import WorkflowContext
from upstash_workflow.flask import Serve
from workflow_cases import (
    FIRST_STEP_BODY,
    LAST_CALL_BODY,
    RECEIPT,
    ended_the_run,
    handed_back_step,
    refused,
    start,
    started_a_run,
    step,
)

from qstash_receiver import (
    BodyMismatchError,
    ConfigError,
    ExpiredError,
    InvalidSignatureError,
    MissingSignatureError,
    NotYetValidError,
    Receiver,
    UrlMismatchError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.adapters import workflow as adapter
from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

ROOT = Path(__file__).resolve().parents[1]
FLASK_URL = "http://localhost/workflow"  # the URL the Flask test client calls


def signature(body: bytes, key: str, **options: Any) -> str:
    return signed_headers(body, key=key, url=URL, **options)["Upstash-Signature"]


# --- the receiver alone, called as the SDK calls it --------------------------------------------


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
@pytest.mark.parametrize("which", [0, 1], ids=["current", "next"])
def test_a_token_of_any_configured_region_verifies_without_a_region_header(
    mode: Mode, region: Region, which: int
) -> None:
    receiver = WorkflowReceiver(receiver=mode.receiver())
    token = signature(JSON_BODY, DEMO_KEYS[region][which])
    message = receiver.verify(body=JSON_BODY.decode(), signature=token)  # the SDK passes text
    assert isinstance(message, VerifiedMessage)
    assert message.body == JSON_BODY
    assert message.key_region == (region if mode is MIGRATION else None)
    assert message.key_used == ("current", "next")[which]


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_a_token_of_no_configured_pair_is_refused(mode: Mode) -> None:
    receiver = WorkflowReceiver(receiver=mode.receiver())
    with pytest.raises(InvalidSignatureError):
        receiver.verify(body="{}", signature=signature(b"{}", FORGER_KEY))
    if mode is SINGLE:  # the EU demo keys are configured nowhere in single-region mode
        with pytest.raises(InvalidSignatureError):
            receiver.verify(body="{}", signature=signature(b"{}", DEMO_KEYS["EU_CENTRAL_1"][0]))


def test_the_default_pair_also_verifies_in_migration_mode_and_explicit_keys_alone() -> None:
    fallback = ("sig_fallbackCurrent000000000000000", "sig_fallbackNext0000000000000000000")
    env = {**DEMO_ENV, "QSTASH_CURRENT_SIGNING_KEY": fallback[0]}
    env["QSTASH_NEXT_SIGNING_KEY"] = fallback[1]
    both = WorkflowReceiver(receiver=Receiver(config=load_config(env)))
    for key in (*fallback, DEMO_KEYS["EU_CENTRAL_1"][0], DEMO_KEYS["US_EAST_1"][1]):
        assert both.verify(body="{}", signature=signature(b"{}", key))
    explicit = WorkflowReceiver(receiver=Receiver(*fallback))
    assert (
        explicit.verify(body="{}", signature=signature(b"{}", fallback[1])).key_source == "explicit"
    )
    with pytest.raises(InvalidSignatureError):
        explicit.verify(body="{}", signature=signature(b"{}", DEMO_KEYS["US_EAST_1"][0]))


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_any_other_failure_of_a_matching_pair_is_final(mode: Mode, region: Region) -> None:
    receiver = WorkflowReceiver(receiver=mode.receiver())
    key = DEMO_KEYS[region][0]
    with pytest.raises(BodyMismatchError):
        receiver.verify(body="{} ", signature=signature(b"{}", key))
    with pytest.raises(ExpiredError):
        receiver.verify(body="{}", signature=signature(b"{}", key, now=time.time() - 600))
    with pytest.raises(MissingSignatureError):
        receiver.verify(body="{}", signature="")


def test_binary_and_non_ascii_bodies() -> None:
    receiver = WorkflowReceiver(receiver=MIGRATION.receiver())
    for region in MIGRATION.regions:
        key = DEMO_KEYS[region][0]
        assert receiver.verify(body=BINARY_BODY, signature=signature(BINARY_BODY, key))
        text = "Zoë 🚀"
        assert receiver.verify(body=text, signature=signature(text.encode(), key))


def test_a_region_when_given_selects_that_regions_keys() -> None:
    receiver = WorkflowReceiver(receiver=MIGRATION.receiver())
    token = signature(b"{}", DEMO_KEYS["EU_CENTRAL_1"][0])
    assert receiver.verify(body="{}", signature=token, upstash_region="EU-CENTRAL-1")
    with pytest.raises(InvalidSignatureError):  # the header names the other region
        receiver.verify(body="{}", signature=token, upstash_region="US-EAST-1")


def test_url_and_clock_tolerance_options() -> None:
    early = signature(b"{}", DEMO_KEYS["US_EAST_1"][0], now=time.time() + 20)
    strict = WorkflowReceiver(receiver=SINGLE.receiver(), url=URL)
    with pytest.raises(NotYetValidError):
        strict.verify(body="{}", signature=early)
    lenient = WorkflowReceiver(receiver=SINGLE.receiver(), url=URL, clock_tolerance=60)
    assert lenient.verify(body="{}", signature=early)
    elsewhere = WorkflowReceiver(receiver=SINGLE.receiver(), url="https://other.example/wf")
    with pytest.raises(UrlMismatchError):
        elsewhere.verify(body="{}", signature=signature(b"{}", DEMO_KEYS["US_EAST_1"][0]))
    # Given by the caller, they replace the options.
    assert elsewhere.verify(body="{}", signature=early, url=URL, clock_tolerance=60)


@pytest.mark.parametrize(
    "config",
    [load_config({}), load_config({"QSTASH_REGION": "US_EAST_1"})],
    ids=["nothing", "migration-without-keys"],
)
def test_without_keys_every_request_is_refused_with_a_clear_error(
    config: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WorkflowReceiver(receiver=Receiver(config=config))
    assert bool(receiver)  # the SDK skips verification for a falsy receiver: this one is not
    token = signature(b"{}", DEMO_KEYS["US_EAST_1"][0])
    with pytest.raises(ConfigError, match="no signing keys configured") as raised:
        receiver.verify(body="{}", signature=token)
    assert "WorkflowReceiver" in str(raised.value)
    logged = [r.levelname for r in caplog.records if "WorkflowReceiver: no" in r.getMessage()]
    assert logged == ["ERROR"]  # the SDK replaces the error's text with its own


def test_it_reads_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(DEMO_ENV):
        monkeypatch.delenv(name, raising=False)
    receiver = WorkflowReceiver()  # built before the environment is set: read on first use
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    for region in MIGRATION.regions:
        assert receiver.verify(body="{}", signature=signature(b"{}", DEMO_KEYS[region][1]))


def test_it_is_the_sdks_receiver_type_and_never_shows_a_key() -> None:
    receiver = WorkflowReceiver(receiver=MIGRATION.receiver())
    assert isinstance(receiver, SdkReceiver)  # what the SDK's receiver= is annotated with
    assert repr(receiver) == "WorkflowReceiver()"
    assert not any(key in repr(vars(receiver)) for pair in DEMO_KEYS.values() for key in pair)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        WorkflowReceiver(clock_tolerance=-1)
    with pytest.raises(TypeError, match="URL itself"):
        WorkflowReceiver(url=lambda request: "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="receiver"):
        WorkflowReceiver(receiver="sig_key")  # type: ignore[arg-type]


def test_error_classes_are_reexported() -> None:
    import qstash_receiver

    for name in ("QStashError", "SignatureError", "ConfigError", "VerifiedMessage"):
        assert getattr(adapter, name) is getattr(qstash_receiver, name)


# --- through upstash-workflow's Flask Serve -----------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[WorkflowApi]:
    with workflow_api() as running:
        yield running


@pytest.fixture(scope="module")
def sdk(api: WorkflowApi) -> QStash:
    """The client the SDK calls QStash back with: the stand-in."""
    return QStash("token", base_url=api.url)


def flask_workflow(sdk: QStash, receiver: SdkReceiver | None) -> tuple[Flask, list[Any]]:
    """A Flask app serving a two-step workflow with ``receiver``; what its steps ran."""
    app, ran = Flask(__name__), list[Any]()
    serve = Serve(app)

    @serve.route("/workflow", receiver=receiver, qstash_client=sdk)
    def workflow(context: WorkflowContext[dict[str, Any]]) -> None:
        order = context.request_payload

        def charge() -> str:
            ran.append(("charge", order["order_id"]))
            return RECEIPT

        receipt = context.run("charge", charge)

        def notify() -> None:
            ran.append(("notify", receipt))

        context.run("notify", notify)

    return app, ran


def send(app: Flask, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    answer = app.test_client().post("/workflow", data=body, headers=headers)
    return answer.status_code, json.loads(answer.get_data())  # JSON, without saying so


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_a_genuine_workflow_runs_through_the_sdk(
    api: WorkflowApi, sdk: QStash, mode: Mode, region: Region
) -> None:
    app, ran = flask_workflow(sdk, WorkflowReceiver(receiver=mode.receiver()))
    api.clear()
    status, answer = send(app, *start(region, FLASK_URL))
    assert (status, answer["workflowRunId"][:4]) == (200, "wfr_")
    assert started_a_run(api.calls, FLASK_URL)
    assert ran == []
    api.clear()
    status, _ = send(app, *step(region, FIRST_STEP_BODY, FLASK_URL))
    assert status == 200
    assert ran == [("charge", 4217)]
    assert handed_back_step(api.calls, "charge", RECEIPT)
    api.clear()
    last = other(region) if mode is MIGRATION else region  # a run may move between regions
    status, answer = send(app, *step(last, LAST_CALL_BODY, FLASK_URL))
    assert (status, answer) == (200, {"workflowRunId": "wfr_test_run"})
    assert ended_the_run(api.calls)
    assert ran == [("charge", 4217)]  # the steps already done did not run again


def forgeries(region: Region) -> dict[str, tuple[dict[str, str], bytes]]:
    headers, body = step(region, FIRST_STEP_BODY, FLASK_URL)
    unsigned = {k: v for k, v in headers.items() if k != "Upstash-Signature"}
    forged_headers = {**headers, **{"Upstash-Signature": signature(body, FORGER_KEY)}}
    expired = {**headers, **step(region, FIRST_STEP_BODY, FLASK_URL)[0]}
    expired["Upstash-Signature"] = signed_headers(
        body, key=DEMO_KEYS[region][0], url=FLASK_URL, now=time.time() - 600
    )["Upstash-Signature"]
    return {
        "unsigned": (unsigned, body),
        "forged": (forged_headers, body),
        "tampered": (headers, body.replace(b"msg_init", b"msg_evil")),
        "expired": (expired, body),
    }


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
@pytest.mark.parametrize("case", ["unsigned", "forged", "tampered", "expired"])
def test_a_forged_request_is_refused_before_the_workflow_runs(
    api: WorkflowApi, sdk: QStash, mode: Mode, region: Region, case: str
) -> None:
    app, ran = flask_workflow(sdk, WorkflowReceiver(receiver=mode.receiver()))
    api.clear()
    assert refused(*send(app, *forgeries(region)[case]))
    assert (ran, api.calls) == ([], [])  # no step ran, QStash was not called


def test_the_other_regions_keys_verify_in_migration_mode_only(sdk: QStash) -> None:
    # The SDK passes no region: in migration mode a token of either region verifies; with a
    # single region's keys, the other region's token is a forgery.
    headers, body = step("US_EAST_1", FIRST_STEP_BODY, FLASK_URL)
    headers["Upstash-Signature"] = signature(body, DEMO_KEYS["EU_CENTRAL_1"][0])
    for mode, accepted in ((MIGRATION, True), (SINGLE, False)):
        app, ran = flask_workflow(sdk, WorkflowReceiver(receiver=mode.receiver()))
        status, answer = send(app, headers, body)
        assert (status == 200) is accepted
        assert refused(status, answer) is not accepted
        assert bool(ran) is accepted


def test_without_keys_the_sdk_path_refuses_everything(
    api: WorkflowApi, sdk: QStash, caplog: pytest.LogCaptureFixture
) -> None:
    app, ran = flask_workflow(sdk, WorkflowReceiver(receiver=Receiver(config=load_config({}))))
    api.clear()
    caplog.set_level(logging.ERROR)
    assert refused(*send(app, *step("US_EAST_1", FIRST_STEP_BODY, FLASK_URL)))
    assert (ran, api.calls) == ([], [])
    assert "WorkflowReceiver: no signing keys configured" in caplog.text


def test_without_it_the_sdk_runs_an_unsigned_request_when_its_variables_are_unset(
    sdk: QStash, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why WorkflowReceiver exists: the SDK's own default verifies nothing without
    # QSTASH_CURRENT/NEXT_SIGNING_KEY (migration mode sets only the region-prefixed ones).
    for name in ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    app, ran = flask_workflow(sdk, None)
    headers, body = step("US_EAST_1", FIRST_STEP_BODY, FLASK_URL)
    del headers["Upstash-Signature"]
    assert send(app, headers, body)[0] == 200
    assert ran == [("charge", 4217)]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_flask_sample_runs_a_genuine_workflow_and_refuses_a_forged_one(
    api: WorkflowApi, sdk: QStash, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**DEMO_ENV, "US_EAST_1_QSTASH_URL": api.url}.items():
        monkeypatch.setenv(name, value)  # its calls back to QStash go to the stand-in
    sample = load(ROOT / "samples" / "workflow_app" / "flask_app.py", "workflow_flask_sample")
    app: Flask = sample.app
    for region in MIGRATION.regions:
        api.clear()
        assert send(app, *start(region, FLASK_URL))[0] == 200
        assert started_a_run(api.calls, FLASK_URL)
        api.clear()
        assert send(app, *step(region, FIRST_STEP_BODY, FLASK_URL))[0] == 200
        assert handed_back_step(api.calls, "charge", RECEIPT)
        api.clear()
        headers, body = step(region, FIRST_STEP_BODY, FLASK_URL)
        assert refused(*send(app, headers, body + b" "))
        assert api.calls == []
