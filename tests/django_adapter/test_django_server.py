"""The Django sample under real servers (gunicorn for WSGI, uvicorn for ASGI) on loopback.

Migration mode from the environment only (DEMO_ENV); deliveries signed as both regions plus
forged ones. "The view ran" is counted from the sample's own ``handled <message_id>`` log lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from qstash_demo.services import serving

from qstash_receiver.pytest_plugin import QStashSigner
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

#: The phrase of 413 as http.HTTPStatus spells it (it changed in Python 3.13).
TOO_LARGE = HTTPStatus(413).phrase

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "django_app"
PAYLOAD = (SAMPLE / "payload.json").read_bytes()
PATHS = ("/qstash/function/", "/qstash/class/", "/qstash/async-function/", "/qstash/async-class/")
EU_CURRENT, EU_NEXT = DEMO_KEYS["EU_CENTRAL_1"]
US_CURRENT, US_NEXT = DEMO_KEYS["US_EAST_1"]
FORGED_KEY = "sig_forgedByMallory0000000000000"
SERVER_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **DEMO_ENV}


def command(server: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [
            *(sys.executable, "-m", "gunicorn", "qstash_sample.wsgi:application"),
            *("--chdir", str(SAMPLE), "-b", f"127.0.0.1:{port}", "--no-control-socket"),
        ]
    return [
        *(sys.executable, "-m", "uvicorn", "qstash_sample.asgi:application"),
        *("--app-dir", str(SAMPLE), "--host", "127.0.0.1", "--port", str(port)),
    ]


@dataclass(frozen=True)
class Delivery:
    name: str
    method: str
    body: bytes
    headers: dict[str, str]
    status: int
    text: str | None = None  # rejection text
    key_region: str | None = None  # genuine deliveries

    @property
    def message_id(self) -> str:
        return self.headers["Upstash-Message-Id"]


def deliveries(url: str, tag: str) -> list[Delivery]:
    """Five genuine deliveries (both regions, both keys, binary, GET) and four forged ones."""

    def headers(name: str, body: bytes, key: str, region: str) -> dict[str, str]:
        return signed_headers(body, key=key, url=url, region=region, message_id=f"{tag}_{name}")

    def genuine(name: str, body: bytes, key: str, region: str, method: str = "POST") -> Delivery:
        return Delivery(name, method, body, headers(name, body, key, region), 200, None, region)

    def forged(name: str, reason: str, key: str, region: str, signature: str = "") -> Delivery:
        sent = headers(name, PAYLOAD, key, region)
        if signature == "none":
            del sent["Upstash-Signature"]
        elif signature:
            sent["Upstash-Signature"] = signature
        return Delivery(name, "POST", PAYLOAD, sent, 401, f"401 Unauthorized: {reason}")

    other_body = sign(b'{"order_id": 1}', key=US_CURRENT, url=url)
    return [
        genuine("eu_current", PAYLOAD, EU_CURRENT, "EU_CENTRAL_1"),
        genuine("eu_next", PAYLOAD, EU_NEXT, "EU_CENTRAL_1"),
        genuine("us_current", PAYLOAD, US_CURRENT, "US_EAST_1"),
        genuine("us_binary", bytes(range(256)), US_NEXT, "US_EAST_1"),
        genuine("us_get", b"", US_CURRENT, "US_EAST_1", method="GET"),  # schedule-style GET
        forged("forged_key", "invalid_signature", FORGED_KEY, "EU_CENTRAL_1"),
        forged("eu_key_as_us", "invalid_signature", EU_CURRENT, "US_EAST_1"),
        forged("swapped_body", "body_mismatch", US_CURRENT, "US_EAST_1", other_body),
        forged("unsigned", "missing_signature", EU_CURRENT, "EU_CENTRAL_1", "none"),
    ]


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_sample_on_a_real_server_runs_the_view_exactly_for_genuine_deliveries(
    server: str, tmp_path: Path, qstash_signer: QStashSigner
) -> None:
    sent: list[Delivery] = []
    with (
        serving(
            server,
            partial(command, server),
            env=SERVER_ENV,
            cwd=ROOT,
            ready_path=PATHS[0],
            log_path=tmp_path / f"{server}.log",
        ) as live,
        httpx.Client(timeout=30) as client,
    ):
        for number, path in enumerate(PATHS):
            url = live.url + path
            for delivery in deliveries(url, f"{server}{number}"):
                response = client.request(
                    delivery.method, url, content=delivery.body, headers=delivery.headers
                )
                assert response.status_code == delivery.status, (path, delivery.name)
                if delivery.status == 200:
                    assert response.json() == {
                        "ok": True,
                        "message_id": delivery.message_id,
                        "key_region": delivery.key_region,
                        "platform": "django",
                    }
                else:
                    assert response.text == delivery.text, (path, delivery.name)
                    assert response.headers["content-type"] == "text/plain; charset=utf-8"
                sent.append(delivery)
        # Above the limit (10 MiB here): answered 413 before the view, by the library.
        big = b"z" * (10 * 1024 * 1024 + 1)
        url = live.url + PATHS[0]
        headers = qstash_signer.headers(big, url=url, region="EU_CENTRAL_1", message_id="big")
        response = client.post(url, content=big, headers=headers)
        assert (response.status_code, response.text) == (
            413,
            f"413 {TOO_LARGE}: body_too_large",
        )
    log = live.output()
    handled = Counter(re.findall(r"^INFO qstash_sample handled (\S+)$", log, re.MULTILINE))
    genuine = Counter(d.message_id for d in sent if d.status == 200)
    assert len(genuine) == 5 * len(PATHS)
    assert handled == genuine
    assert not any(key in log for keys in DEMO_KEYS.values() for key in keys)


def test_manage_py_check_reports_the_qstash_checks() -> None:
    manage = [sys.executable, "manage.py", "check"]
    env_without_keys = {"PATH": SERVER_ENV["PATH"]}
    failed = subprocess.run(
        manage, cwd=SAMPLE, env=env_without_keys, capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 1
    assert "(qstash_receiver.E001) No QStash signing keys can be resolved" in failed.stderr
    passed = subprocess.run(
        manage, cwd=SAMPLE, env=SERVER_ENV, capture_output=True, text=True, timeout=120
    )
    assert passed.returncode == 0, passed.stderr
    # The sample's six views (four, the job view and the callback view) keep the default (no
    # URL check), which the check says, as an Info.
    assert "(qstash_receiver.I001) 6 QStash views do not check the signed URL" in passed.stderr
    # Its guard is in Django's default cache, LocMemCache here (no REDIS_URL): per process.
    assert "(qstash_receiver.W006) The QStash duplicate guard is kept in the cache" in passed.stderr
    assert "System check identified 2 issues (0 silenced)" in passed.stderr
