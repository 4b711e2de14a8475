"""`make demo`: the in-process part, the Lambda bridge it uses, and the whole run end to end."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import in_thread
from qstash_demo import draining, e2e, receiving
from qstash_demo.runner import main

from qstash_receiver.cli.lambda_bridge import make_server, to_response

ROOT = Path(__file__).resolve().parents[1]


def test_in_process_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--in-process-only"]) == 0
    out = capsys.readouterr().out
    assert "migration (primary region US_EAST_1)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("EU_", "US_"))]
    verdicts = {(row[0], row[1]): (row[2], row[3]) for row in rows}
    assert len(verdicts) == 10
    for region in ("EU_CENTRAL_1", "US_EAST_1"):
        assert verdicts[(region, "genuine")] == ("200", "200")
        assert verdicts[(region, "genuine-next-key")] == ("200", "200")
        for case in ("tampered", "wrong-region-keys", "expired"):
            assert verdicts[(region, case)] == ("401", "401")
    assert "body_mismatch" in out
    assert "invalid_signature" in out
    assert "FAIL" not in out
    assert "demo PASSED" in out


Invocation = tuple[dict[str, Any], Any]


@pytest.fixture
def bridge() -> Iterator[tuple[str, list[Invocation], list[Any]]]:
    """A bridge around a recording handler that returns the queued results in turn."""
    calls: list[Invocation] = []
    results: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append((event, context))
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    with in_thread(make_server(handler)) as url:
        yield url, calls, results


def test_bridge_builds_an_http_api_v2_event(
    bridge: tuple[str, list[Invocation], list[Any]],
) -> None:
    url, calls, results = bridge
    results.append({"statusCode": 202, "headers": {"X-Done": "yes"}, "body": "accepted"})
    body = b"\x00\xff\xfe not utf-8"
    answer = httpx.post(
        f"{url}/qstash?a=1&b=", content=body, headers=[("X-Multi", "1"), ("X-Multi", "2")]
    )
    assert (answer.status_code, answer.text, answer.headers["x-done"]) == (202, "accepted", "yes")
    [(event, context)] = calls
    assert event["version"] == "2.0"
    assert (event["rawPath"], event["rawQueryString"]) == ("/qstash", "a=1&b=")
    assert event["queryStringParameters"] == {"a": "1", "b": ""}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    assert event["headers"]["x-multi"] == "1,2"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert context.get_remaining_time_in_millis() > 0
    assert context.function_name


def test_bridge_translates_results_and_survives_a_crash(
    bridge: tuple[str, list[Invocation], list[Any]],
) -> None:
    url, _calls, results = bridge
    encoded = base64.b64encode(b"\x01\x02").decode()
    results += [
        {"statusCode": 200, "body": encoded, "isBase64Encoded": True},
        {"plain": "dict"},
        RuntimeError("boom"),
        {"statusCode": 401, "body": "401 Unauthorized: expired"},
    ]
    assert httpx.get(url).content == b"\x01\x02"
    plain = httpx.get(url)
    assert (plain.status_code, plain.json()) == (200, {"plain": "dict"})
    assert httpx.get(url).status_code == 502
    assert httpx.get(url).text == "401 Unauthorized: expired"


@pytest.mark.parametrize("length", ["-1", "abc"])
def test_bridge_refuses_a_bad_content_length(
    bridge: tuple[str, list[Invocation], list[Any]], length: str
) -> None:
    url, calls, _results = bridge
    port = int(url.rsplit(":", 1)[1])
    request = f"POST /qstash HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request.encode())
        answer = client.recv(4096).decode()
    assert answer.startswith("HTTP/1.0 400 ") or answer.startswith("HTTP/1.1 400 ")
    assert calls == []


def test_to_response_joins_multi_value_headers() -> None:
    status, headers, body = to_response(
        {"statusCode": 204, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}}
    )
    assert (status, headers, body) == (204, {"Set-Cookie": "a=1,b=2"}, b"")


def test_missing_samples_are_named(tmp_path: Path) -> None:
    outcomes, problems = e2e.run(tmp_path, ["flask", "lambda", "cobol"], say=lambda _: None)
    assert outcomes == []
    assert problems == [
        "unknown platform: cobol",
        "missing: samples/flask_app/app.py",
        "missing: samples/aws_lambda/handler.py",
        "missing: samples/aws_lambda/resolver_app.py",
    ]


NOT_VERIFYING_APP = """
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/qstash", methods=["GET", "POST"])
def receive():
    message_id = request.headers.get("Upstash-Message-Id")
    region = (request.headers.get("Upstash-Region") or "").replace("-", "_")
    print(f"handled {message_id}", flush=True)
    return jsonify(ok=True, message_id=message_id, key_region=region, platform="flask")
"""


def test_an_endpoint_that_does_not_verify_fails_the_demo(tmp_path: Path) -> None:
    app = tmp_path / "samples" / "flask_app" / "app.py"
    app.parent.mkdir(parents=True)
    app.write_text(NOT_VERIFYING_APP)
    outcomes, problems = e2e.run(tmp_path, ["flask"], say=lambda _: None)
    assert problems == []
    verdicts = {(o.region, o.case): (o.status, o.ok) for o in outcomes}
    assert len(verdicts) == 8
    for (_region, case), verdict in verdicts.items():
        # Genuine deliveries get the answer they expect; every forgery is let in and caught.
        assert verdict == ((200, True) if case == "genuine" else (200, False))


def test_the_draining_part_fails_without_its_sample(tmp_path: Path) -> None:
    steps, problems = draining.run(tmp_path, say=lambda _: None)
    assert steps == []
    assert len(problems) == 1
    assert problems[0].startswith("flask ")


def test_make_demo_end_to_end() -> None:
    """The whole `make demo`: the stand-in, every sample on a real server, both regions."""
    result = subprocess.run(
        [sys.executable, "samples/demo/run_demo.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-2000:]
    assert "demo PASSED" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("platform "))
    table = [line.split() for line in lines[start + 2 : lines.index("", start)]]
    regions = ("EU_CENTRAL_1", "US_EAST_1")
    cells = {(row[0], row[1], row[2]): row[3:] for row in table}
    expected_rows = {
        (platform.label, path, region)
        for platform in e2e.PLATFORMS
        for path in platform.paths
        for region in regions
    }
    assert set(cells) == expected_rows
    for row in cells.values():
        assert row == ["200", "ok", "401", "ok", "401", "ok", "401", "ok"]
    assert f"{len(expected_rows) * 4}/{len(expected_rows) * 4} deliveries as expected" in out
    assert "PROBLEM" not in out
    # Part 3: the receiving cases on the Flask, Django and Lambda samples.
    part3 = lines[lines.index("== Part 3: at-least-once receiving through the stand-in ==") :]
    verdicts = {tuple(line.split()[:3]) for line in part3 if line.split()[1:2] in (
        [case] for case in receiving.CASES
    )}  # fmt: skip
    assert verdicts == {
        (platform, case, "ok") for platform in ("flask", "django", "lambda")
        for case in receiving.CASES
    }  # fmt: skip
    assert "9/9 receiving cases as expected" in out
    # Part 4: EU_CENTRAL_1 drains; `migrate status` says so before and after.
    part4 = lines[lines.index(
        "== Part 4: watching the old region drain (qstash-receiver migrate status) =="
    ) :]  # fmt: skip
    before = part4.index("    EU_CENTRAL_1 not drained: 1 schedule, 1 in flight")
    delivered = next(i for i, line in enumerate(part4) if "delivered to the Flask sample: 200, "
                     "verified with EU_CENTRAL_1 keys" in line)  # fmt: skip
    after = part4.index("    EU_CENTRAL_1 drained")
    assert before < delivered < after
    assert part4[before - 2] == "$ qstash-receiver migrate status   (exit 1)"
    assert part4[after - 2] == "$ qstash-receiver migrate status   (exit 0)"
    assert "3/3 draining steps as expected" in out


NOT_DEDUPLICATING_APP = """
from flask import Flask, request

from qstash_receiver import NonRetryableError
from qstash_receiver.adapters.flask import current_message, verify_qstash
from qstash_receiver.callbacks import parse_callback

app = Flask(__name__)


@app.post("/jobs")
@verify_qstash
def job():
    if request.get_json()["case"] == "non-retryable":
        raise NonRetryableError("never")
    print(f"handled {current_message().message_id}", flush=True)
    return "ok"


@app.post("/callbacks")
@verify_qstash
def callback():
    report = parse_callback(current_message())
    print(f"failure callback for {report.source_message_id}: status {report.status}, "
          f"dlq {report.dlq_id}", flush=True)
    return "ok"
"""


def test_a_job_endpoint_without_the_guard_fails_the_duplicate_row(tmp_path: Path) -> None:
    app = tmp_path / "samples" / "flask_app" / "app.py"
    app.parent.mkdir(parents=True)
    app.write_text(NOT_DEDUPLICATING_APP)
    rows, problems = receiving.run(tmp_path, ["flask"], say=lambda _: None)
    assert problems == []
    verdicts = {row.case: row.ok for row in rows}
    assert verdicts == {"duplicate": False, "non-retryable": True, "failure-callback": True}
    assert "handled 2x" in next(row.detail for row in rows if row.case == "duplicate")


def test_bridge_keeps_a_burst_of_connections_waiting_instead_of_resetting_them() -> None:
    """60 clients connect at once to the one-at-a-time bridge: none is reset (backlog 5 did)."""
    server = make_server(lambda event, context: {"statusCode": 200, "body": "ok"})
    host, port = server.server_address[:2]
    waiting = [socket.create_connection((str(host), port), timeout=30) for _ in range(60)]
    try:
        with in_thread(server):
            for connection in waiting:
                connection.sendall(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
            answers = [connection.recv(64) for connection in waiting]
    finally:
        for connection in waiting:
            connection.close()
    assert all(answer.startswith(b"HTTP/1.0 200") for answer in answers), answers[:3]
