"""HTTP functions that ``tests/test_gcf_adapter.py`` serves through functions-framework's own
app factory (``create_app(target, source=this file)``), exactly as ``functions-framework
--source`` loads a deployed ``main.py``. It holds no tests itself."""

from __future__ import annotations

import json
import logging

import functions_framework
from flask import Request, Response, g

from qstash_receiver import NonRetryableError, Receiver, load_config
from qstash_receiver.adapters.gcf import PublicUrl, current_message, public_url, verify_qstash
from qstash_receiver.dedupe import MemoryStore
from qstash_receiver.testing import DEMO_ENV

RECEIVER = Receiver(config=load_config(DEMO_ENV))
LIMIT = 64
DEPLOYED = PublicUrl(environ={"K_SERVICE": "qstash-handler"})  # as on Cloud Functions
logger = logging.getLogger("qstash_gcf_tests")


def answer(request: Request) -> Response:
    message = current_message()
    assert g.qstash_message is message
    logger.info("handled %s", message.message_id)
    seen = {
        "message_id": message.message_id,
        "key_region": message.key_region,
        "json": request.get_json(silent=True),
        "same_body": request.get_data() == message.body,
        "length": len(message.body),
        "url": message.url,
    }
    return Response(json.dumps(seen), mimetype="application/json")


@functions_framework.http
@verify_qstash(receiver=RECEIVER)
def plain(request: Request) -> Response:
    return answer(request)


@functions_framework.http
@verify_qstash(receiver=RECEIVER, max_body_bytes=LIMIT)
def limited(request: Request) -> Response:
    return answer(request)


@functions_framework.http
@verify_qstash(receiver=RECEIVER, url=public_url)
def url_checked(request: Request) -> Response:
    return answer(request)


@functions_framework.http
@verify_qstash(receiver=RECEIVER, url=DEPLOYED)
def deployed(request: Request) -> Response:
    return answer(request)


@functions_framework.http
@verify_qstash(receiver=Receiver(config=load_config({})))
def unconfigured(request: Request) -> Response:
    return answer(request)


@functions_framework.http
@verify_qstash(receiver=RECEIVER, dedupe=MemoryStore())
def guarded_job(request: Request) -> Response:
    if json.loads(request.get_data()) == {"refuse": True}:
        raise NonRetryableError("never")
    return answer(request)
