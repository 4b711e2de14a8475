"""The samples of the framework-neutral adapters on their real servers, in migration mode from
the environment only: samples/wsgi_app (Falcon under gunicorn), samples/asgi_app (Litestar under
uvicorn), samples/vercel (the Vercel handler class on the standard library's server); and
samples/vercel's deployment files, as far as they can be checked without a deployment."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from neutral_cases import BASE_ENV, BIN, BINARY, EU_CURRENT, FORGED_KEY, ROOT, US_NEXT, signed
from qstash_demo.services import serving

from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS

SAMPLES: dict[str, tuple[str, Callable[[int], list[str]], str, str | None]] = {
    # name -> (folder, command, verified path, guarded path)
    "wsgi": (
        "wsgi_app",
        lambda port: [str(BIN / "gunicorn"), "app:application", "--chdir", "samples/wsgi_app",
                      "-b", f"127.0.0.1:{port}", "--no-control-socket"],
        "/qstash", "/jobs",
    ),
    "asgi": (
        "asgi_app",
        lambda port: [sys.executable, "-m", "uvicorn", "app:application", "--app-dir",
                      "samples/asgi_app", "--host", "127.0.0.1", "--port", str(port)],
        "/qstash", "/jobs",
    ),
    "http_server": (
        "vercel",
        lambda port: [sys.executable, "samples/vercel/api/qstash.py", str(port)],
        "/api/qstash", None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_in_migration_mode(name: str, tmp_path: Path) -> None:
    folder, command, path, jobs = SAMPLES[name]
    payload = (ROOT / "samples" / folder / "payload.json").read_bytes()
    env = {**BASE_ENV, **DEMO_ENV}
    log = tmp_path / "sample.log"
    with serving(name, command, env=env, cwd=ROOT, log_path=log) as service:

        def post(to: str, body: bytes, key: str, region: str, message_id: str) -> httpx.Response:
            headers = signed(body, key, region, message_id)
            return httpx.post(service.url + to, content=body, headers=headers, timeout=30)

        ok = post(path, payload, EU_CURRENT, "EU_CENTRAL_1", "eu")
        assert ok.status_code == 200, ok.text
        expected = {"ok": True, "message_id": "eu", "key_region": "EU_CENTRAL_1"}
        assert ok.json() == {**expected, "platform": name}
        assert post(path, BINARY, US_NEXT, "US_EAST_1", "bin").status_code == 200
        forged = post(path, payload, FORGED_KEY, "US_EAST_1", "forged")
        assert (forged.status_code, forged.text) == (401, "401 Unauthorized: invalid_signature")
        if jobs is not None:
            refused = post(jobs, b'{"case": "non-retryable"}', EU_CURRENT, "EU_CENTRAL_1", "no")
            assert refused.status_code == 489
            assert refused.headers["upstash-nonretryable-error"] == "true"
            first = post(jobs, payload, EU_CURRENT, "EU_CENTRAL_1", "job")
            copy = post(jobs, payload, EU_CURRENT, "EU_CENTRAL_1", "job")
            assert (first.status_code, copy.text) == (200, "200 OK: duplicate")
    text = log.read_text()
    # "INFO qstash_sample handled <id>"; Litestar formats the root logger its own way.
    handled = Counter(re.findall(r"^INFO\b.* qstash_sample .*\bhandled (\S+)", text, re.M))
    assert handled == Counter({"eu": 1, "bin": 1, **({"job": 1} if jobs else {})})
    for current, nxt in DEMO_KEYS.values():
        assert current not in text
        assert nxt not in text


# --- the Vercel deployment files ------------------------------------------------------------

VERCEL = ROOT / "samples" / "vercel"
#: vercel.json's documented top-level keys (the project configuration reference) and those of
#: one entry of "functions".
TOP_LEVEL = {"$schema", "functions", "rewrites", "redirects", "headers", "regions",
             "buildCommand", "installCommand", "cleanUrls", "trailingSlash", "crons"}  # fmt: skip
FUNCTION = {"runtime", "memory", "maxDuration", "includeFiles", "excludeFiles"}


def check_vercel_json(config: object, root: Path) -> None:
    """What can be checked of a vercel.json here: its keys, and that each function exists."""
    assert isinstance(config, dict)
    assert set(config) <= TOP_LEVEL, set(config) - TOP_LEVEL
    functions = config.get("functions", {})
    assert isinstance(functions, dict)
    for pattern, settings in functions.items():
        assert list(root.glob(pattern)), pattern  # a function file it configures
        assert set(settings) <= FUNCTION, set(settings) - FUNCTION
        assert 1 <= settings.get("maxDuration", 1) <= 800


def test_the_vercel_sample_is_laid_out_as_vercel_serves_it() -> None:
    check_vercel_json(json.loads((VERCEL / "vercel.json").read_text()), VERCEL)
    source = (VERCEL / "api" / "qstash.py").read_text()
    assert re.search(r"^class handler\(BaseHTTPRequestHandler\):", source, re.M)
    requirements = [
        line for line in (VERCEL / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert requirements == ["--find-links ../../dist", "qstash-receiver"]


def test_the_vercel_json_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "index.py").write_text("")
    check_vercel_json({"functions": {"api/index.py": {"maxDuration": 10}}}, tmp_path)
    wrong: list[dict[str, Any]] = [
        {"function": {}},  # misspelled
        {"functions": {"api/missing.py": {}}},
        {"functions": {"api/index.py": {"timeout": 10}}},
    ]
    for bad in wrong:
        with pytest.raises(AssertionError):
            check_vercel_json(bad, tmp_path)


def test_the_vercel_json_of_the_docs() -> None:
    """Every vercel.json shown in docs/platforms/vercel.md parses and uses documented keys."""
    page = (ROOT / "docs" / "platforms" / "vercel.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", page, re.S)
    assert len(blocks) >= 3  # the handler sample's, Flask's and FastAPI's
    for block in blocks:
        config = json.loads(block)
        assert set(config) <= TOP_LEVEL
        for settings in config.get("functions", {}).values():
            assert set(settings) <= FUNCTION
