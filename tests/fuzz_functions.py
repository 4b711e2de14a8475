"""The HTTP functions ``tests/test_fuzz.py`` serves through functions-framework's own app
factory (``create_app(target, source=this file)``). It holds no tests itself."""

from __future__ import annotations

import functions_framework
from flask import Request, Response
from fuzzing import RECEIVER, seen_as_json

from qstash_receiver.adapters.gcf import current_message, verify_qstash


@functions_framework.http
@verify_qstash(receiver=RECEIVER)
def fuzzed(request: Request) -> Response:
    return Response(seen_as_json(current_message()), mimetype="application/json")


@functions_framework.http
@verify_qstash(receiver=RECEIVER, max_body_bytes=512)
def fuzzed_limited(request: Request) -> Response:
    return Response(seen_as_json(current_message()), mimetype="application/json")
