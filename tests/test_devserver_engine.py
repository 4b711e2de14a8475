"""The stand-in's engine: a bounded worker pool, a prompt stop, bursts of publishes, console."""

from __future__ import annotations

import ast
import http.client
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from destination import Answer, Destination, destination
from publishing import sdk_client

from qstash_receiver import load_config
from qstash_receiver.cli._common import Console
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.testing import DEMO_ENV

TOKEN = DEMO_ENV["US_EAST_1_QSTASH_TOKEN"]
CLI = Path(__file__).resolve().parents[1] / "cli"


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as state:
        yield state


def raw_publish(base: str, url: str, start: threading.Barrier) -> tuple[int, str]:
    """One publish on its own connection, sent when every sender is ready."""
    host, port = base.removeprefix("http://").split(":")
    start.wait()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(
            "POST", f"/v2/publish/{url}", body=b"{}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read()).get("messageId", "")
    finally:
        connection.close()


def test_300_simultaneous_publishes_are_all_accepted_and_delivered(target: Destination) -> None:
    count = 300
    start = threading.Barrier(count)
    results: list[tuple[int, str] | BaseException] = []
    with DevServer(backoff=0.05, timeout=10) as dev:
        base = dev.url("US_EAST_1")

        def send() -> None:
            try:
                results.append(raw_publish(base, target.url(), start))
            except OSError as err:  # ConnectionResetError with a listen backlog of 5
                results.append(err)

        senders = [threading.Thread(target=send) for _ in range(count)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        refused = [r for r in results if not isinstance(r, tuple) or r[0] != 201]
        assert refused == []
        ids = {r[1] for r in results if isinstance(r, tuple)}
        assert len(ids) == count
        finals = [dev.wait_for(message_id, timeout=60) for message_id in ids]
    assert all(final.ok for final in finals)
    delivered = {d.headers["upstash-message-id"] for d in target.at("/hook")}
    assert delivered == ids


def test_stop_returns_promptly_with_a_delivery_in_flight(target: Destination) -> None:
    def slow(_delivery: object, _n: int) -> Answer:
        target.release.wait(60)
        return Answer()

    target.scripts["/slow"] = slow
    dev = DevServer(timeout=60).start()
    with sdk_client(config=load_config(dev.env("US_EAST_1"))) as client:
        client.message.publish(url=target.url("/slow"), body=b"x")
    target.wait_for("/slow", 1)  # the delivery is now on the wire, waiting for an answer
    stopper = threading.Thread(target=dev.stop)
    stopper.start()
    stopper.join(20)  # a deadlock guard, not a speed check: stop must not wait for the answer
    try:
        assert not stopper.is_alive()
    finally:
        target.release.set()
        stopper.join()
    assert dev.attempts == []  # an answer that arrives after stop is not recorded


def test_deliveries_do_not_start_a_thread_per_message(target: Destination) -> None:
    with DevServer() as dev, sdk_client(config=load_config(dev.env("US_EAST_1"))) as client:
        client.message.publish(url=target.url(), body=b"warm-up")  # the connection and its thread
        baseline = threading.active_count()
        for _ in range(40):
            client.message.publish(url=target.url(), body=b"later", delay="60s")
        assert threading.active_count() <= baseline + 1


class Writes:
    """A stream that records each write call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.calls.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_concurrent_console_lines_are_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Writes()
    monkeypatch.setattr(sys, "stdout", stream)
    console = Console()
    lines = [f"[US_EAST_1] msg_{t}_{n} -> 200 delivered" for t in range(8) for n in range(50)]

    def say(part: list[str]) -> None:
        for line in part:
            console.line(line)

    threads = [threading.Thread(target=say, args=(lines[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One write per line: no other thread's output can land between a line and its newline.
    assert sorted(stream.calls) == sorted(line + "\n" for line in lines)


def _private_reaches(path: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self`` or ``cls``: one object using another's privates."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        private = node.attr.startswith("_") and not node.attr.endswith("__")
        owner_is_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        if private and not owner_is_self:
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_no_cli_module_uses_another_objects_private_members() -> None:
    reaches = [r for path in sorted(CLI.glob("*.py")) for r in _private_reaches(path)]
    assert reaches == []
