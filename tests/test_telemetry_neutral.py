"""One span, two metric points and one delivery record per delivery on the adapters merged
after the telemetry: WSGI and ASGI middleware, ``http.server``, aiohttp (decorator and
middleware) and Azure Functions (sync and async), each driven in-process (tests/
neutral_telemetry.py) through every case of ``telemetry_harness.CASES``; a WSGI app that
answers lazily; and Upstash Workflow's receiver, which records nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from neutral_telemetry import BUILDERS, environ, wsgi_call
from opentelemetry.trace import SpanKind
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import (
    RECEIVER,
    Captured,
    act,
    check_cases,
    check_no_secrets,
    delivery,
    fields,
)

from qstash_receiver import QStashError
from qstash_receiver.adapters import wsgi as wsgi_adapter
from qstash_receiver.adapters.workflow import WorkflowReceiver
from qstash_receiver.dedupe import MemoryStore


@pytest.mark.parametrize("adapter", list(BUILDERS))
def test_every_outcome_and_refusal_leaves_one_span_one_record_and_its_points(
    adapter: str, telemetry: Captured
) -> None:
    check_cases(BUILDERS[adapter], telemetry)


def lazy_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """A generator app: it starts its answer (or raises) only when first iterated."""
    status, text = act(wsgi_adapter.get_message(environ))
    start_response(f"{status} {HTTPStatus(status).phrase}", [])
    yield text.encode()


@pytest.mark.parametrize(
    ("action", "status", "outcome"),
    [("ok", 200, "handled"), ("fail", 500, "failed"), ("nonretryable", 489, "non_retryable")],
)
def test_a_lazy_wsgi_app_is_recorded_by_the_answer_it_starts(
    telemetry: Captured, action: str, status: int, outcome: str
) -> None:
    app = wsgi_adapter.QStashMiddleware(lazy_wsgi_app, receiver=RECEIVER, dedupe=MemoryStore())
    body, headers = delivery(action, message_id=f"msg_{action}")
    assert wsgi_call(app, environ(body, headers)) == status
    span = telemetry.process_span()
    assert (span.attributes or {})["messaging.qstash.outcome"] == outcome
    (record,) = telemetry.records
    assert fields(record)["outcome"] == outcome
    work = [s for s in telemetry.spans() if s.name == "handler work"]
    assert [w.parent.span_id if w.parent else None for w in work] == [span.context.span_id]


def test_the_workflow_receiver_emits_no_delivery_telemetry(telemetry: Captured) -> None:
    """Documented (docs/observability.md): the SDK gives the receiver a body and a signature,
    never the request or the outcome, so there is no delivery to record."""
    receiver = WorkflowReceiver(receiver=RECEIVER)
    body, headers = delivery()
    assert receiver.verify(body=body.decode(), signature=headers["Upstash-Signature"])
    with pytest.raises(QStashError):
        receiver.verify(body=body.decode() + " ", signature=headers["Upstash-Signature"])
    assert [s for s in telemetry.spans() if s.kind == SpanKind.CONSUMER] == []
    assert telemetry.records == []
    assert telemetry.points() == []


@pytest.mark.parametrize("adapter", list(BUILDERS))
def test_no_key_token_or_signature_in_any_span_point_or_record(
    adapter: str, telemetry: Captured
) -> None:
    check_no_secrets(BUILDERS[adapter], telemetry)
