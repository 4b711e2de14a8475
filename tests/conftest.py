"""Put the demo's package (``samples/demo/qstash_demo``, outside the wheel) on ``sys.path``.

Its subprocess helpers (``qstash_demo.services``) start the sample servers for the tests too.
Hypothesis runs without its timing health checks and deadlines: CI starts from a fresh clone
(no example database) on a shared machine, where a slow first generation says nothing about
the code under test.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "shared-machine",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("shared-machine")

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo"
if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))
