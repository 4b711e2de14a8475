"""The README's and the docs' code snippets run as they are written.

A snippet is the ```python block after a ``<!-- snippet: NAME -->`` line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qstash_receiver import Receiver, load_config
from qstash_receiver.testing import DEMO_KEYS, signed_headers

ROOT = Path(__file__).resolve().parents[1]
KEY, NEXT_KEY = DEMO_KEYS["US_EAST_1"]
BODY = b'{"order_id": 42}'


def snippet(path: Path, name: str) -> str:
    """The code of snippet ``name`` in ``path``."""
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)\n```", path.read_text(), re.S
    )
    assert found is not None, f"no snippet {name!r} in {path.name}"
    return found.group(1)


def load(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "snippet"}
    exec(compile(code, "<snippet>", "exec"), namespace)  # noqa: S102 (our own documentation)
    return namespace


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_core_quickstart_reads_headers_in_any_case_and_answers_every_outcome(page: str) -> None:
    namespace = load(snippet(ROOT / page, "core-quickstart"))
    handle: Callable[[dict[str, str], bytes], tuple[int, str]] = namespace["handle"]
    namespace["receiver"] = Receiver(
        config=load_config({"QSTASH_CURRENT_SIGNING_KEY": KEY, "QSTASH_NEXT_SIGNING_KEY": NEXT_KEY})
    )
    headers = signed_headers(BODY, key=KEY)  # QStash's capitalisation: Upstash-Signature
    assert handle(headers, BODY)[0] == 200
    lower = {name.lower(): value for name, value in headers.items()}
    assert handle(lower, BODY)[0] == 200
    assert handle(headers, BODY + b" ") == (401, "body_mismatch")
    assert handle({}, BODY) == (401, "missing_signature")
    # No usable keys: a retryable answer, not an exception escaping the handler.
    namespace["receiver"] = Receiver(config=load_config({}))
    assert handle(headers, BODY) == (500, "configuration_error")


def test_the_quickstart_is_the_same_in_the_readme_and_the_docs() -> None:
    assert snippet(ROOT / "README.md", "core-quickstart") == snippet(
        ROOT / "docs/index.md", "core-quickstart"
    )


@pytest.mark.parametrize("page", ["README.md", "docs/switching.md"])
def test_switching_snippet_answers_a_tampered_body_with_401(page: str) -> None:
    code = snippet(ROOT / page, "switching").replace('"sig_..."', "KEY", 1)
    code = code.replace('"sig_..."', "NEXT_KEY", 1)
    namespace = load(f"KEY, NEXT_KEY = {KEY!r}, {NEXT_KEY!r}\n{code}")
    handle: Callable[[str, bytes], int] = namespace["handle"]
    signature = signed_headers(BODY, key=KEY, url="https://example.com/api")["Upstash-Signature"]
    assert handle(signature, BODY) == 200
    assert handle(signature, BODY + b" ") == 401  # caught: qstash_receiver.SignatureError
