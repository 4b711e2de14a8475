"""Put the demo's package (``samples/demo/qstash_demo``, outside the wheel) on ``sys.path``.

Its subprocess helpers (``qstash_demo.services``) start the sample servers for the tests too.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo"
if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))
