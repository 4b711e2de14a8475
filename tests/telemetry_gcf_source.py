"""The Cloud Function of test_telemetry_adapters.py (functions-framework loads this file for
each app): its options are ``telemetry_harness.GCF_OPTIONS``, set before the app is made."""

from __future__ import annotations

from typing import Any

import functions_framework
import telemetry_harness
from flask import Request

from qstash_receiver.adapters.gcf import current_message, verify_qstash

OPTIONS: dict[str, Any] = telemetry_harness.GCF_OPTIONS


@functions_framework.http
@verify_qstash(**OPTIONS)
def delivery(request: Request) -> tuple[str, int]:
    status, text = telemetry_harness.act(current_message())
    return text, status
