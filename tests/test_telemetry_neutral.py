"""One span, two metric points and one delivery record per delivery on the adapters merged
after the telemetry: WSGI and ASGI middleware, ``http.server``, aiohttp (decorator and
middleware) and Azure Functions (sync and async), each driven in-process (tests/
neutral_telemetry.py) through every case of ``telemetry_harness.CASES``."""

from __future__ import annotations

import pytest
from neutral_telemetry import BUILDERS
from telemetry_harness import *  # noqa: F403 (fixtures)
from telemetry_harness import Captured, check_cases


@pytest.mark.parametrize("adapter", list(BUILDERS))
def test_every_outcome_and_refusal_leaves_one_span_one_record_and_its_points(
    adapter: str, telemetry: Captured
) -> None:
    check_cases(BUILDERS[adapter], telemetry)
