"""Run cases through the official TypeScript SDK in one Node process (tests/interop).

Shared by the interop and parity tests; imported as a top-level module (pytest puts tests/ on
``sys.path``). Not a test module, so pytest does not rewrite its asserts: each carries its message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

INTEROP = Path(__file__).parent / "interop"
SCRIPT = INTEROP / "receiver_cases.mjs"


def run_node(cases: list[dict[str, Any]], env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Run the batch driver with exactly ``env`` (plus PATH); one result per case."""
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules" / "@upstash" / "qstash").is_dir():
        pytest.fail("Node 20 and tests/interop/node_modules are required: run `make node`")
    completed = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        encoding="utf-8",
        env={**env, "PATH": os.environ.get("PATH", "")},
        cwd=INTEROP,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    assert len(results) == len(cases), f"{len(results)} results for {len(cases)} cases"
    return results
