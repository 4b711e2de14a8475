"""Importing the core stays cheap: no HTTP client, event loop, crypto library or JWT library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "asyncio", "cryptography", "jwt", "qstash")

PROBE = """
import json, sys
heavy = {heavy!r}
def loaded():
    return sorted(
        name for name in sys.modules
        if any(name == top or name.startswith(top + ".") for top in heavy)
    )
before = loaded()
{imports}
print(json.dumps({{"before": before, "after": loaded()}}))
"""


def probe(imports: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, imports=imports)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "imports",
    [
        "import qstash_receiver",
        "import qstash_receiver.testing",
        "from qstash_receiver import *",
        "from qstash_receiver.testing import sign, signed_headers, DEMO_ENV",
        "import qstash_receiver.cli",  # the console script: only `dev` needs httpx
    ],
)
def test_core_imports_no_heavy_modules(imports: str) -> None:
    result = probe(imports)
    assert result["before"] == []  # otherwise the check below could not see anything
    assert result["after"] == []


def test_probe_detects_a_heavy_import() -> None:
    # The same probe does see a heavy module when one is imported.
    assert "jwt" in probe("import jwt")["after"]


def test_every_public_name_resolves() -> None:
    import qstash_receiver
    import qstash_receiver.testing

    for module in (qstash_receiver, qstash_receiver.testing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__
