"""The "Observing deliveries" page's snippets do what the page says: each runs as written (in a
fresh interpreter, or under the real gunicorn and uvicorn) and a delivery then shows up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from limit_servers import ENV, ROOT, SERVERS_DIR
from qstash_demo.services import serving

PAGE = ROOT / "docs" / "observability.md"
BIN = Path(sys.executable).parent

# A Flask app with one verified view, a signed delivery to it and a refused one.
_FLASK_DELIVERIES = """
from flask import Flask
from qstash_receiver import Receiver, load_config
from qstash_receiver.adapters.flask import verify_qstash
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers
app = Flask(__name__)
@app.post("/api/qstash")
@verify_qstash(receiver=Receiver(config=load_config(DEMO_ENV)))
def hook():
    return "ok"
client = app.test_client()
body = b'{"order": 1}'
headers = signed_headers(body, key=DEMO_KEYS["US_EAST_1"][0], region="US_EAST_1",
                         message_id="msg_docs")
assert client.post("/api/qstash", data=body, headers=headers).status_code == 200
assert client.post("/api/qstash", data=body).status_code == 401
"""


def snippet(name: str, language: str = "python") -> str:
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```{language}\n(.*?)\n```", PAGE.read_text(), re.S
    )
    assert found is not None, f"no snippet {name!r} in {PAGE.name}"
    return found.group(1)


def run(*parts: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(parts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_console_exporters_show_the_span_and_the_metrics() -> None:
    out = run(snippet("otel-console"), _FLASK_DELIVERIES).stdout
    assert '"name": "process /api/qstash"' in out
    assert '"kind": "SpanKind.CONSUMER"' in out
    assert '"messaging.qstash.outcome": "handled"' in out
    assert '"messaging.qstash.outcome": "rejected"' in out
    assert '"error.type": "missing_signature"' in out
    # The periodic reader exports once more when the process exits.
    assert '"name": "messaging.client.consumed.messages"' in out
    assert '"name": "messaging.process.duration"' in out


def test_the_json_formatter_shows_the_fields() -> None:
    err = run(snippet("log-json"), _FLASK_DELIVERIES).stderr
    handled, refused = (json.loads(line) for line in err.splitlines() if line.startswith("{"))
    assert handled["qstash_outcome"] == "handled"
    assert handled["qstash_message_id"] == "msg_docs"
    assert handled["qstash_region"] == "US_EAST_1"
    assert handled["qstash_key_source"] == "region"
    assert handled["qstash_retried"] == 0
    assert handled["qstash_duration"] > 0
    assert (refused["qstash_outcome"], refused["qstash_reason"]) == (
        "rejected",
        "missing_signature",
    )
    assert refused["level"] == "INFO"


def test_basic_configuration_shows_a_refusal_under_flask() -> None:
    err = run(snippet("log-basic"), _FLASK_DELIVERIES).stderr
    assert "INFO qstash_receiver.delivery QStash delivery rejected (missing_signature)" in err
    assert "INFO qstash_receiver.delivery QStash delivery handled: message 'msg_docs'" in err


def test_djangos_logging_setting_shows_a_refusal() -> None:
    script = f"""
import django
from django.conf import settings
{snippet("django-logging")}
settings.configure(DEBUG=False, SECRET_KEY="docs", ALLOWED_HOSTS=["testserver"], LOGGING=LOGGING,
                   INSTALLED_APPS=["qstash_receiver.adapters.django"], DATABASES={{}})
django.setup()
from django.http import HttpResponse
from django.test import RequestFactory
from qstash_receiver.adapters.django import verify_qstash

@verify_qstash
def hook(request):
    return HttpResponse("ok")

assert hook(RequestFactory().post("/qstash", data=b"{{}}", content_type="x")).status_code == 401
"""
    err = run(script).stderr
    assert "QStash delivery rejected (missing_signature)" in err


def test_gunicorns_logconfig_dict_shows_a_refusal_and_keeps_gunicorns_own_log(
    tmp_path: Path,
) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(snippet("gunicorn-logging"))

    def command(port: int) -> list[str]:
        return [
            *(str(BIN / "gunicorn"), "flask_limits:proxied", "--chdir", SERVERS_DIR),
            *("-c", str(conf), "-b", f"127.0.0.1:{port}", "--no-control-socket"),
        ]

    with serving("gunicorn-logging", command, env=ENV, cwd=ROOT, ready_path="/") as service:
        assert httpx.post(service.url + "/limited", content=b"{}").status_code == 401
        assert _eventually(service.output, "QStash delivery rejected (missing_signature)")
        assert "Booting worker" in service.output()  # gunicorn's own error log, still there


def test_uvicorns_log_config_shows_a_refusal(tmp_path: Path) -> None:
    config = tmp_path / "logging.json"
    config.write_text(snippet("uvicorn-logging", "json"))

    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "asgi_limits:app", "--app-dir", SERVERS_DIR),
            *("--host", "127.0.0.1", "--port", str(port), "--log-config", str(config)),
        ]

    with serving("uvicorn-logging", command, env=ENV, cwd=ROOT, ready_path="/") as service:
        assert httpx.post(service.url + "/limited", content=b"{}").status_code == 401
        assert _eventually(service.output, "QStash delivery rejected (missing_signature)")
        assert "Uvicorn running on" in service.output()  # uvicorn's own log, still there


def _eventually(read: object, text: str, seconds: float = 10.0) -> bool:
    import time

    assert callable(read)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in read():
            return True
        time.sleep(0.05)
    return False


def test_the_powertools_snippet_logs_counts_and_answers() -> None:
    script = f"""
import json
{snippet("lambda-powertools")}
from pathlib import Path
from types import SimpleNamespace
from qstash_receiver.adapters.aws_lambda.testing import event_with
from qstash_receiver.testing import DEMO_KEYS, signed_headers
template = json.loads(Path("tests/fixtures/lambda/http_api.json").read_text())
body = b'{{"order": 1}}'
headers = signed_headers(body, key=DEMO_KEYS["US_EAST_1"][0], region="US_EAST_1",
                         message_id="msg_powertools")
context = SimpleNamespace(function_name="orders", memory_limit_in_mb=128, aws_request_id="r1",
                          invoked_function_arn="arn:aws:lambda:eu-central-1:1:function:orders")
assert handler(event_with(template, body=body, headers=headers), context)["statusCode"] == 200
"""
    env = {
        "PATH": ENV["PATH"],
        "QSTASH_REGION": "US_EAST_1",
        **{
            f"US_EAST_1_QSTASH_{kind}_SIGNING_KEY": key
            for kind, key in zip(("CURRENT", "NEXT"), _demo_us_keys(), strict=True)
        },
        "POWERTOOLS_TRACE_DISABLED": "true",  # offline: no X-Ray daemon
    }
    out = run(script, env=env).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    (record,) = [line for line in lines if line.get("name") == "qstash_receiver.delivery"]
    assert record["qstash_outcome"] == "handled"
    assert record["qstash_message_id"] == "msg_powertools"
    assert record["level"] == "INFO"
    (blob,) = [line for line in lines if "QStashDeliveries" in line]
    assert (blob["outcome"], blob["region"], blob["service"]) == ("handled", "US_EAST_1", "orders")
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Orders"


def _demo_us_keys() -> tuple[str, str]:
    from qstash_receiver.testing import DEMO_KEYS

    return DEMO_KEYS["US_EAST_1"]


@pytest.mark.parametrize(
    "name", ["otel-console", "log-json", "log-basic", "django-logging", "lambda-powertools"]
)
def test_each_python_snippet_compiles(name: str) -> None:
    compile(snippet(name), name, "exec")
