"""Fuzzing the core and the adapters: no false accept and no exception escaping, ever.

Each target gets ``QSTASH_FUZZ_CASES`` requests (default 2,000, the ``make test`` size) built
by tests/fuzzing.py: signed deliveries with 0 to 3 mutations of their token, body and headers;
Lambda events are also mutated field by field (types, shapes, deleted and garbage values).
A request either reaches the handler with a message that is exactly a signed delivery, or is
answered 401/413/500 in the platform's shape. The big run (>= 100,000 per target):

    QSTASH_FUZZ_CASES=100000 .venv/bin/pytest -s tests/test_fuzz.py \\
        tests/django_adapter/test_django_fuzz.py

prints one line per target with its counts. Django's test client runs in
tests/django_adapter/test_django_fuzz.py (Django is configured there).
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask import Flask, Response
from fuzzing import (
    CASES,
    RECEIVER,
    Registry,
    Seen,
    Tally,
    assert_clean,
    delivery,
    judge,
    rng_for,
    seen_as_json,
    seen_by_handler,
    seen_from_json,
)
from verdicts import check_request

from qstash_receiver import SignatureError, VerifiedMessage
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters.aws_lambda import (
    UnsupportedEventError,
    get_message,
    http_response,
    verify_qstash,
)
from qstash_receiver.adapters.aws_lambda.events import to_proxy_event
from qstash_receiver.adapters.aws_lambda.testing import event_with
from qstash_receiver.integration import Answer

FIXTURES = Path(__file__).parent / "fixtures" / "lambda"
SHAPES = ["apigateway_rest", "http_api", "function_url", "alb", "alb_multi_value"]
TEMPLATES = {name: json.loads((FIXTURES / f"{name}.json").read_text()) for name in SHAPES}
METHODS = ["POST", "POST", "POST", "PUT", "GET", "DELETE", "PATCH"]


# --- core ---------------------------------------------------------------------------------


def test_fuzz_receiver_verify() -> None:
    rng, registry, tally = rng_for("verify"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry)
        signature = next((v for n, v in made.headers if n.lower() == "upstash-signature"), "")
        body: bytes | str = made.body
        if rng.random() < 0.3 and _is_text(made.body):  # a str body (hashed as UTF-8)
            body = made.body.decode("utf-8")

        def run(signature: str = signature, body: bytes | str = body) -> tuple[int, Seen | None]:
            try:
                message = RECEIVER.verify(
                    signature=signature,
                    body=body,
                    clock_tolerance=rng.choice([0, 5]),
                    upstash_region=rng.choice([None, "US-EAST-1", "x"]),
                )
            except SignatureError:
                return 401, None
            return 200, seen_by_handler(message)

        judge(tally, registry, made, run)
    assert_clean(tally, "Receiver.verify", CASES)


def test_fuzz_check_request() -> None:
    rng, registry, tally = rng_for("check_request"), Registry(), Tally()
    for _ in range(CASES):
        made = delivery(rng, registry)
        headers = made.headers if rng.random() < 0.5 else made.header_dict()
        limit = rng.choice([10 * 1024 * 1024, 1024])

        def run(
            headers: Any = headers, limit: int = limit, body: bytes = made.body
        ) -> tuple[int, Seen | None]:
            result = check_request(RECEIVER, headers, body, max_body_bytes=limit)
            if isinstance(result, Answer):
                assert result.status in (401, 413), result
                return result.status, None
            assert isinstance(result, VerifiedMessage)
            return 200, seen_by_handler(result)

        judge(tally, registry, made, run)
    assert_clean(tally, "check_request", CASES)


# --- AWS Lambda ---------------------------------------------------------------------------

GARBAGE: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "x",
    "é\ud800",
    [],
    [None],
    ["a"],
    {},
    {"a": None},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def mutate_event(rng: random.Random, event: dict[str, Any]) -> list[str]:
    """Spoil 1 to 3 fields of ``event`` in place: deleted, garbage, or another type."""
    done: list[str] = []
    for _ in range(rng.randrange(1, 4)):
        paths = list(_paths(event))
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = event
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        choice = rng.randrange(4)
        if choice == 0 and isinstance(parent, dict):
            del parent[last]
            done.append(f"del {path}")
        elif choice == 1 and isinstance(parent[last], list):
            parent[last] = rng.choice([[], [None], [None, *parent[last]], parent[last] * 2])
            done.append(f"list {path}")
        else:
            parent[last] = copy.deepcopy(rng.choice(GARBAGE))
            done.append(f"set {path}")
    return done


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        grouped[name].append(value)
    return dict(grouped)


def _assert_in_shape(event: dict[str, Any], answer: dict[str, Any]) -> None:
    assert isinstance(answer["statusCode"], int)
    assert isinstance(answer["body"], str)
    shape = type(to_proxy_event(event)).__name__
    if shape == "ALBEvent":
        assert answer["statusDescription"].startswith(str(answer["statusCode"]))


def test_fuzz_lambda_events() -> None:
    rng, registry, tally = rng_for("lambda"), Registry(), Tally()
    seen: list[Seen] = []

    def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(seen_by_handler(get_message(event)))
        return http_response(event, 200, "ok")

    handlers = [verify_qstash(receiver=RECEIVER)(record)]
    handlers.append(verify_qstash(receiver=RECEIVER, max_body_bytes=2048)(record))

    unsupported = 0
    for _ in range(CASES):
        made = delivery(rng, registry)
        template = TEMPLATES[rng.choice(SHAPES)]
        event = event_with(
            template,
            body=made.body if rng.random() < 0.95 else None,
            headers=_grouped(made.headers),
            method=rng.choice(METHODS),
            base64_body=rng.random() < 0.7 or not _is_text(made.body),
        )
        if rng.random() < 0.5:
            made.mutations += mutate_event(rng, event)
            made.genuine = False

        handler = rng.choice(handlers)

        def run(event: dict[str, Any] = event, handler: Any = handler) -> tuple[int, Seen | None]:
            nonlocal unsupported
            try:
                to_proxy_event(event)
            except UnsupportedEventError:  # not an HTTP event: documented to raise this
                unsupported += 1
                with pytest.raises(UnsupportedEventError):
                    handler(event, None)
                return 0, None
            seen.clear()
            answer = handler(event, None)
            _assert_in_shape(event, answer)
            assert (answer["statusCode"] == 200) == bool(seen), answer
            return answer["statusCode"], seen[0] if seen else None

        judge(tally, registry, made, run)
    print(f"  ({unsupported} mutated events were no HTTP event: UnsupportedEventError)")
    assert_clean(tally, "Lambda verify_qstash", CASES)


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- Flask and Cloud Functions (their own test clients) -----------------------------------


def flask_app() -> Flask:
    app = Flask(__name__)
    app.testing = True  # exceptions propagate to the test client instead of becoming 500s

    @app.route("/sync", methods=METHODS)
    @flask_adapter.verify_qstash(receiver=RECEIVER)
    def sync_view() -> Response:
        return Response(seen_as_json(flask_adapter.current_message()))

    @app.route("/async", methods=METHODS)
    @flask_adapter.verify_qstash(receiver=RECEIVER, max_body_bytes=512)
    async def async_view() -> Response:
        await asyncio.sleep(0)
        return Response(seen_as_json(flask_adapter.current_message()))

    return app


def _over_test_client(name: str, client: Any, paths: list[str], cases: int) -> Callable[[], Tally]:
    def fuzz() -> Tally:
        rng, registry, tally = rng_for(name), Registry(), Tally()
        for _ in range(cases):
            made = delivery(rng, registry, on_the_wire=True)
            path, method = rng.choice(paths), rng.choice(METHODS)

            def run(made: Any = made, path: str = path, method: str = method) -> tuple[int, Any]:
                response = client.open(path, method=method, headers=made.headers, data=made.body)
                if response.status_code == 200:
                    return 200, seen_from_json(response.get_data())
                assert response.status_code in (401, 413), response.status_code
                return response.status_code, None

            judge(tally, registry, made, run)
        return tally

    return fuzz


def test_fuzz_flask() -> None:
    tally = _over_test_client("flask", flask_app().test_client(), ["/sync", "/async"], CASES)()
    assert_clean(tally, "Flask verify_qstash (sync and async views)", CASES)


def test_fuzz_cloud_functions() -> None:
    source = str(Path(__file__).with_name("fuzz_functions.py"))
    create = functions_framework.create_app  # the factory behind the functions-framework CLI
    apps = {
        target: create(target, source)  # type: ignore[no-untyped-call]
        for target in ("fuzzed", "fuzzed_limited")
    }
    tallies = [
        _over_test_client(f"gcf-{target}", app.test_client(), ["/"], CASES // 2)()
        for target, app in apps.items()
    ]
    total = Tally()
    for tally in tallies:
        total.cases += tally.cases
        total.accepted += tally.accepted
        total.genuine_accepted += tally.genuine_accepted
        total.statuses.update(tally.statuses)
        total.false_accepts += tally.false_accepts
        total.escaped += tally.escaped
    assert_clean(total, "Cloud Functions verify_qstash (functions-framework app)", CASES // 2 * 2)
