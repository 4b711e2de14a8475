"""Run a Lambda sample (samples/aws_lambda) on events in a fresh Python process, as Lambda would.

Imported as a top-level module by tests in this folder (pytest puts tests/ on ``sys.path``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent


def invoke(
    entry: str, events: list[dict[str, Any]], env: Mapping[str, str]
) -> tuple[list[Any], str]:
    """Import ``samples/aws_lambda/<module>`` with exactly ``env``; its answers and its log.

    ``entry`` is ``module:function``; the process logs at INFO to stderr, which is returned.
    """
    module, function = entry.split(":")
    code = (
        "import json, logging, sys\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "sys.path.insert(0, 'samples/aws_lambda')\n"
        f"from {module} import {function} as entry\n"
        "print(json.dumps([entry(event, None) for event in json.load(sys.stdin)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(events),
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers: list[Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answers, done.stderr
