"""The Azure Functions adapter through real ``azure.functions.HttpRequest`` objects (what the
Python worker hands a v2-model function; no Functions host runs here): sync and async
functions, called by keyword as the worker calls them, in single-region and migration mode,
with every answer of DESIGN.md; the sample function app through its ``FunctionApp``."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from azure.functions.http import HttpRequest as WorkerRequest
from stack_cases import (
    BINARY_BODY,
    FORGED,
    JSON_BODY,
    MIGRATION,
    MODE_REGION_IDS,
    MODE_REGIONS,
    MODES,
    SINGLE,
    URL,
    Mode,
    forged,
    genuine,
)

from qstash_receiver import (
    ConfigError,
    NonRetryableError,
    QStashError,
    Receiver,
    RetryLater,
    SignatureError,
    VerifiedMessage,
    load_config,
)
from qstash_receiver.adapters import azure_functions as adapter
from qstash_receiver.adapters.azure_functions import (
    default_receiver,
    get_message,
    request_url,
    verify_qstash,
)
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.names import Region
from qstash_receiver.testing import DEMO_ENV

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 64 * 1024
TOO_LARGE = f"413 {HTTPStatus(413).phrase}: body_too_large"
Function = Callable[..., Any]


def request(
    body: bytes, headers: dict[str, str], *, url: str = URL, method: str = "POST"
) -> func.HttpRequest:
    """A request as the worker builds one: headers, the whole body, the public URL."""
    return func.HttpRequest(method, url, headers=headers, params={}, route_params={}, body=body)


def worker_request(body: bytes, headers: dict[str, str]) -> func.HttpRequest:
    """The subclass the Python worker itself decodes HTTP triggers into."""
    return WorkerRequest(
        "POST", URL, headers=headers, params={}, route_params={}, body_type="bytes", body=body
    )


def act(req: func.HttpRequest, runs: Counter[str]) -> func.HttpResponse:
    message = get_message(req)
    runs[message.message_id or "-"] += 1
    action = req.params.get("do", "ok")
    if action == "nonretryable":
        raise NonRetryableError("the order is gone")
    if action == "retry_later":
        raise RetryLater(20)
    if action == "slow":
        time.sleep(0.3)
    answer = {
        "message_id": message.message_id,
        "key_region": message.key_region,
        "body": req.get_body().hex(),
        "same": req.get_body() == message.body,
    }
    return func.HttpResponse(json.dumps(answer), mimetype="application/json")


def functions(receiver: Receiver, runs: Counter[str], **options: Any) -> dict[str, Function]:
    """A sync and an async HTTP function, each decorated with ``options``."""

    @verify_qstash(receiver=receiver, max_body_bytes=LIMIT, **options)
    def sync_function(req: func.HttpRequest) -> func.HttpResponse:
        return act(req, runs)

    @verify_qstash(receiver=receiver, max_body_bytes=LIMIT, **options)
    async def async_function(req: func.HttpRequest, context: object = None) -> func.HttpResponse:
        await asyncio.sleep(0)
        return act(req, runs)

    return {"sync": sync_function, "async": async_function}


def call(function: Function, req: func.HttpRequest) -> func.HttpResponse:
    """As the worker calls it: bindings by keyword; a coroutine function awaited."""
    result = function(req=req)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    assert isinstance(result, func.HttpResponse)
    return result


def text(response: func.HttpResponse) -> str:
    return response.get_body().decode()


@pytest.fixture(params=MODES, ids=str)
def setup(request: pytest.FixtureRequest) -> tuple[Mode, dict[str, Function], Counter[str]]:
    runs = Counter[str]()
    mode: Mode = request.param
    return mode, functions(mode.receiver(), runs), runs


Setup = tuple[Mode, dict[str, Function], Counter[str]]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("body", [JSON_BODY, BINARY_BODY], ids=["json", "binary"])
@pytest.mark.parametrize("make", [request, worker_request], ids=["HttpRequest", "worker"])
def test_a_genuine_delivery_reaches_the_function_with_its_message_and_raw_body(
    setup: Setup, kind: str, body: bytes, make: Callable[..., func.HttpRequest]
) -> None:
    mode, made, runs = setup
    for region in mode.regions:
        req = make(body, genuine(body, region, message_id=f"msg_{region}"))
        answer = call(made[kind], req)
        assert answer.status_code == 200, text(answer)
        seen = json.loads(text(answer))
        assert seen["message_id"] == f"msg_{region}"
        assert seen["key_region"] == (region if mode is MIGRATION else None)
        assert bytes.fromhex(seen["body"]) == body
        assert seen["same"] is True
        assert get_message(req).body == body
    assert sum(runs.values()) == len(mode.regions)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(FORGED))
def test_every_forgery_is_refused_with_401_naming_its_reason(
    setup: Setup, kind: str, case: str
) -> None:
    mode, made, runs = setup
    for region in mode.regions:
        headers, body = forged(case, JSON_BODY, region)
        req = request(body, headers)
        answer = call(made[kind], req)
        assert (answer.status_code, text(answer)) == (401, f"401 Unauthorized: {FORGED[case]}")
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
        with pytest.raises(LookupError):
            get_message(req)
    assert runs == Counter()


class CountingRequest(func.HttpRequest):
    """A request that counts how often its body is read."""

    reads = 0

    def get_body(self) -> bytes:
        CountingRequest.reads += 1
        return super().get_body()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_oversize_body_is_413_and_a_declared_one_is_never_read(setup: Setup, kind: str) -> None:
    mode, made, runs = setup
    big = b"x" * (LIMIT + 1)
    region = mode.regions[0]
    declared = CountingRequest(
        "POST", URL, headers={**genuine(big, region), "Content-Length": str(len(big))}, body=big
    )
    CountingRequest.reads = 0
    answer = call(made[kind], declared)
    assert (answer.status_code, text(answer)) == (413, TOO_LARGE)
    assert CountingRequest.reads == 0  # refused on the declared length: the body was not read
    undeclared = call(made[kind], request(big, genuine(big, region)))  # chunked: no length
    assert (undeclared.status_code, text(undeclared)) == (
        413,
        TOO_LARGE,
    )
    exact = b"x" * LIMIT
    assert call(made[kind], request(exact, genuine(exact, region))).status_code == 200
    assert sum(runs.values()) == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_function_errors_become_489_and_503(setup: Setup, kind: str) -> None:
    mode, made, _ = setup
    region = mode.regions[-1]
    refused = func.HttpRequest(
        "POST",
        URL,
        headers=genuine(JSON_BODY, region),
        params={"do": "nonretryable"},
        body=JSON_BODY,
    )
    answer = call(made[kind], refused)
    expected = (489, "489 Error: non_retryable: the order is gone")
    assert (answer.status_code, text(answer)) == expected
    assert answer.headers["Upstash-NonRetryable-Error"] == "true"
    later = func.HttpRequest(
        "POST",
        URL,
        headers=genuine(JSON_BODY, region),
        params={"do": "retry_later"},
        body=JSON_BODY,
    )
    answer = call(made[kind], later)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "20")


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_dedupe_runs_a_sync_function_once_under_concurrent_copies(
    mode: Mode, region: Region
) -> None:
    runs = Counter[str]()
    function = functions(mode.receiver(), runs, dedupe=MemoryStore())["sync"]
    headers = genuine(JSON_BODY, region, message_id="msg_copies")
    answers: list[func.HttpResponse] = []

    def deliver() -> None:  # the worker runs sync functions in its thread pool
        req = func.HttpRequest("POST", URL, headers=headers, params={"do": "slow"}, body=JSON_BODY)
        answers.append(call(function, req))

    copies = [threading.Thread(target=deliver) for _ in range(6)]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join()
    check_copies(runs, answers)
    again = call(function, request(JSON_BODY, headers))
    assert (again.status_code, text(again)) == (200, "200 OK: duplicate")


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_dedupe_runs_an_async_function_once_under_concurrent_copies(
    mode: Mode, region: Region
) -> None:
    runs = Counter[str]()

    @verify_qstash(receiver=mode.receiver(), dedupe=MemoryStore())
    async def slow(req: func.HttpRequest) -> func.HttpResponse:
        await asyncio.sleep(0.3)
        return act(req, runs)

    headers = genuine(JSON_BODY, region, message_id="msg_copies")

    async def copies() -> list[func.HttpResponse]:  # the worker's event loop runs them together
        return list(
            await asyncio.gather(*(slow(req=request(JSON_BODY, headers)) for _ in range(6)))
        )

    check_copies(runs, asyncio.run(copies()))


def check_copies(runs: Counter[str], answers: list[func.HttpResponse]) -> None:
    assert runs == {"msg_copies": 1}
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}, statuses
    assert len([a for a in answers if a.status_code == 200 and text(a).startswith("{")]) == 1
    assert all(a.headers.get("Retry-After") for a in answers if a.status_code == 409)


def test_url_option_gets_the_request_and_request_url_is_req_url() -> None:
    runs = Counter[str]()
    made = functions(SINGLE.receiver(), runs, url=request_url)
    public = "https://qstash-app.azurewebsites.net/api/qstash?code=abc"
    for function in made.values():
        right = request(JSON_BODY, genuine(JSON_BODY, "US_EAST_1", url=public), url=public)
        assert call(function, right).status_code == 200
        wrong = request(JSON_BODY, genuine(JSON_BODY, "US_EAST_1", url=public), url=URL)
        assert text(call(function, wrong)) == "401 Unauthorized: url_mismatch"
    fixed = functions(SINGLE.receiver(), runs, url=public)["sync"]
    assert (
        call(fixed, request(JSON_BODY, genuine(JSON_BODY, "US_EAST_1", url=public))).status_code
        == 200
    )


def test_clock_tolerance() -> None:
    runs = Counter[str]()
    early = genuine(JSON_BODY, "US_EAST_1", now=time.time() + 20)
    strict = functions(SINGLE.receiver(), runs)["sync"]
    assert text(call(strict, request(JSON_BODY, early))) == "401 Unauthorized: not_yet_valid"
    lenient = functions(SINGLE.receiver(), runs, clock_tolerance=60)["async"]
    assert call(lenient, request(JSON_BODY, early)).status_code == 200


def test_no_usable_keys_is_a_retryable_500(caplog: pytest.LogCaptureFixture) -> None:
    runs = Counter[str]()
    for function in functions(Receiver(config=load_config({})), runs).values():
        answer = call(function, request(JSON_BODY, genuine(JSON_BODY, "US_EAST_1")))
        assert (answer.status_code, text(answer)) == (
            500,
            "500 Internal Server Error: configuration_error",
        )
    assert runs == Counter()
    assert "no signing keys" in caplog.text


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """App Settings as the Functions host exposes them: the process environment."""
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    default_receiver.reset()
    yield monkeypatch
    default_receiver.reset()


def test_the_default_receiver_reads_app_settings(environment: pytest.MonkeyPatch) -> None:
    @verify_qstash
    def hook(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(get_message(req).key_region or "")

    for region in MIGRATION.regions:
        assert text(call(hook, request(b"{}", genuine(b"{}", region)))) == region


def test_the_published_demo_keys_are_refused_on_azure(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("WEBSITE_INSTANCE_ID", "a1b2c3")  # set on every App Service instance

    @verify_qstash
    def hook(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ran")

    answer = call(hook, request(b"{}", genuine(b"{}", "US_EAST_1")))
    assert (answer.status_code, text(answer)) == (
        500,
        "500 Internal Server Error: configuration_error",
    )


def test_the_request_is_found_among_other_bindings_and_needed() -> None:
    runs = Counter[str]()
    made = functions(SINGLE.receiver(), runs)
    req = request(JSON_BODY, genuine(JSON_BODY, "US_EAST_1"))
    answer = asyncio.run(made["async"](context="ctx", req=req))  # any order of bindings
    assert answer.status_code == 200
    with pytest.raises(TypeError, match="HttpRequest"):
        made["sync"](req="not a request")


def test_options_are_checked_when_decorating() -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        verify_qstash(clock_tolerance=-1)
    with pytest.raises(TypeError, match="dedupe"):
        verify_qstash(dedupe={})  # type: ignore[call-overload]


def test_error_classes_and_message_are_reexported() -> None:
    import qstash_receiver

    for cls in (QStashError, SignatureError, ConfigError, VerifiedMessage):
        assert getattr(adapter, cls.__name__) is getattr(qstash_receiver, cls.__name__)


def load_sample() -> ModuleType:
    path = ROOT / "samples" / "azure_functions" / "function_app.py"
    spec = importlib.util.spec_from_file_location("azure_function_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_function_app_indexes_and_answers(environment: pytest.MonkeyPatch) -> None:
    app: func.FunctionApp = load_sample().app
    indexed = {f.get_function_name(): f for f in app.get_functions()}  # what the worker indexes
    assert set(indexed) == {"qstash", "qstash_async", "jobs"}
    for name, function in indexed.items():
        trigger = json.loads(function.get_function_json())["bindings"][0]
        assert (trigger["type"], trigger["authLevel"]) == ("httpTrigger", "ANONYMOUS"), name
    user = {name: f.get_user_function() for name, f in indexed.items()}
    for region in MIGRATION.regions:
        for name in ("qstash", "qstash_async", "jobs"):
            message_id = f"m_{region}_{name}"
            answer = call(
                user[name], request(JSON_BODY, genuine(JSON_BODY, region, message_id=message_id))
            )
            assert json.loads(text(answer)) == {
                "ok": True,
                "message_id": message_id,
                "key_region": region,
                "platform": "azure",
            }
        copy = request(JSON_BODY, genuine(JSON_BODY, region, message_id=f"m_{region}_jobs"))
        assert text(call(user["jobs"], copy)) == "200 OK: duplicate"
        refuse = json.dumps({"case": "non-retryable"}).encode()
        assert call(user["jobs"], request(refuse, genuine(refuse, region))).status_code == 489
        for case in ("tampered", "wrong-region", "expired"):
            headers, body = forged(case, JSON_BODY, region)
            assert (
                text(call(user["qstash"], request(body, headers)))
                == f"401 Unauthorized: {FORGED[case]}"
            )


def test_the_sample_is_laid_out_as_the_functions_host_loads_it() -> None:
    from packaging.requirements import Requirement

    sample = ROOT / "samples" / "azure_functions"
    host = json.loads((sample / "host.json").read_text())
    assert host["version"] == "2.0"
    settings = json.loads((sample / "local.settings.example.json").read_text())["Values"]
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
    keys = {k: v for k, v in DEMO_ENV.items() if "SIGNING_KEY" in k or k == "QSTASH_REGION"}
    assert {k: v for k, v in settings.items() if "QSTASH" in k} == keys  # the demo keys
    lines = (sample / "requirements.txt").read_text().splitlines()
    assert "--find-links ../../dist" in lines
    wanted = {Requirement(line).name for line in lines if line and not line.startswith(("#", "--"))}
    assert wanted == {"qstash-receiver", "azure-functions"}
    assert "local.settings.json" in (sample / ".funcignore").read_text().split()
    assert (sample / "payload.json").is_file()


@pytest.mark.parametrize(("mode", "region"), MODE_REGIONS, ids=MODE_REGION_IDS)
def test_a_signature_replayed_under_another_message_id_is_refused(
    mode: Mode, region: Region
) -> None:
    runs = Counter[str]()
    function = functions(mode.receiver(), runs, dedupe=MemoryStore())["sync"]
    headers = genuine(JSON_BODY, region, message_id="msg_first")
    assert call(function, request(JSON_BODY, headers)).status_code == 200
    forged = {**headers, "Upstash-Message-Id": "msg_forged"}
    replayed = call(function, request(JSON_BODY, forged))
    assert (replayed.status_code, text(replayed)) == (401, "401 Unauthorized: replayed")
    assert sum(runs.values()) == 1
