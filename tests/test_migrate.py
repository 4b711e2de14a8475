"""``qstash-receiver migrate status`` against the stand-in, both regions driven by the official
Python SDK: drained, then not (a schedule, a delayed message), then drained again; a refused
token, an unreachable region and a half-configured one named with their cause, never the token.

The command runs as its own process, as an operator runs it, reading a ``--env-file``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from destination import Answer, Delivery, Destination, destination
from publishing import message_id, sdk_client
from qstash.log import LogState

from qstash_receiver import load_config
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.cli.migrate import in_flight, region_status
from qstash_receiver.testing import DEMO_ENV

EU_KEYS = "EU_CENTRAL_1_QSTASH_CURRENT/NEXT_SIGNING_KEY"
DRAINED = {"schedules": 0, "queues": 0, "url_groups": 0, "dlq": 0, "in_flight": 0}


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as state:
        yield state


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=10) as server:
        yield server


def status(env: Mapping[str, str], tmp_path: Path, *options: str) -> tuple[int, str, str]:
    """Run ``migrate status`` with exactly ``env`` (as a .env file); exit status, out, err."""
    env_file = tmp_path / "migration.env"
    env_file.write_text("".join(f'{name}="{value}"\n' for name, value in env.items()))
    done = subprocess.run(
        [sys.executable, "-m", "qstash_receiver.cli", "migrate", "status", *options,
         "--env-file", str(env_file), "--env-file-only"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def as_json(env: Mapping[str, str], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    code, out, err = status(env, tmp_path, "--json")
    assert err == ""
    assert out.startswith("{"), out  # nothing else on stdout (the SDK's own prints included)
    payload: dict[str, Any] = json.loads(out)
    return code, payload


def test_drained_then_not_then_drained_again(
    dev: DevServer, target: Destination, tmp_path: Path
) -> None:
    env = dev.env("US_EAST_1")
    config = load_config(env)
    drained_text = [
        "primary region: US_EAST_1",
        "EU_CENTRAL_1 drained",
        f"  nothing in it delivers on its own: {EU_KEYS} can go",
        "US_EAST_1 (primary): nothing yet",
    ]
    code, out, err = status(env, tmp_path)
    assert (code, out.splitlines(), err) == (0, drained_text, "")
    assert as_json(env, tmp_path) == (0, {
        "primary": "US_EAST_1",
        "regions": {
            "EU_CENTRAL_1": {**DRAINED, "drained": True},
            "US_EAST_1": {**DRAINED, "drained": True},
        },
    })  # fmt: skip

    # EU still has a schedule and a delayed message; the destination holds the delivery
    # until released, so the message is in flight however slow this machine is.
    arrived = threading.Event()

    def hold(delivery: Delivery, count: int) -> Answer:
        arrived.set()
        target.release.wait(20)
        return Answer()

    target.scripts["/slow"] = hold
    with sdk_client("EU_CENTRAL_1", config=config) as eu, sdk_client(config=config) as us:
        schedule_id = eu.schedule.create(destination=target.url(), cron="0 * * * *")
        delayed = message_id(
            eu.message.publish_json(url=target.url("/slow"), body={"last": True}, delay="1s")
        )
        us.schedule.create(destination=target.url(), cron="0 * * * *")
        code, out, err = status(env, tmp_path)
        assert (code, err) == (1, "")
        assert out.splitlines() == [
            "primary region: US_EAST_1",
            "EU_CENTRAL_1 not drained: 1 schedule, 1 in flight",
            f"  keep {EU_KEYS}: what is left is delivered signed with them",
            "US_EAST_1 (primary): 1 schedule",
        ]
        assert as_json(env, tmp_path) == (1, {
            "primary": "US_EAST_1",
            "regions": {
                "EU_CENTRAL_1": {**DRAINED, "schedules": 1, "in_flight": 1, "drained": False},
                "US_EAST_1": {**DRAINED, "schedules": 1, "drained": False},
            },
        })  # fmt: skip

        eu.schedule.delete(schedule_id)
        assert arrived.wait(20)  # now ACTIVE: still in flight
        code, out, _ = status(env, tmp_path)
        assert code == 1
        assert "EU_CENTRAL_1 not drained: 1 in flight" in out.splitlines()
        target.release.set()
        assert dev.wait_for(delayed).ok

    code, out, err = status(env, tmp_path)
    assert (code, err) == (0, "")
    assert out.splitlines() == [*drained_text[:3], "US_EAST_1 (primary): 1 schedule"]
    code, payload = as_json(env, tmp_path)
    assert code == 0
    assert payload["regions"]["EU_CENTRAL_1"] == {**DRAINED, "drained": True}


def test_queues_url_groups_and_dead_letters_are_shown_but_do_not_block(
    dev: DevServer, target: Destination, tmp_path: Path
) -> None:
    env = dev.env("US_EAST_1")
    target.answer("/dead", Answer(489, {"Upstash-NonRetryable-Error": "true"}))
    with sdk_client("EU_CENTRAL_1", config=load_config(env)) as eu:
        eu.queue.upsert("emails")
        eu.url_group.upsert_endpoints(url_group="fanout", endpoints=[{"url": target.url()}])
        dead = message_id(eu.message.publish_json(url=target.url("/dead"), body={}))
        assert dev.wait_for(dead).dlq_id is not None
    code, out, _ = status(env, tmp_path)
    assert code == 0
    assert out.splitlines()[1:4] == [
        "EU_CENTRAL_1 drained",
        f"  nothing in it delivers on its own: {EU_KEYS} can go",
        "  left, delivering only on a publish or a DLQ retry: 1 queue, 1 URL group, 1 DLQ message",
    ]
    code, payload = as_json(env, tmp_path)
    assert payload["regions"]["EU_CENTRAL_1"] == {
        "schedules": 0, "queues": 1, "url_groups": 1, "dlq": 1, "in_flight": 0, "drained": True,
    }  # fmt: skip


def test_a_paused_schedule_still_counts(
    dev: DevServer, target: Destination, tmp_path: Path
) -> None:
    env = dev.env("US_EAST_1")
    with sdk_client("EU_CENTRAL_1", config=load_config(env)) as eu:
        eu.schedule.pause(eu.schedule.create(destination=target.url(), cron="0 * * * *"))
    code, out, _ = status(env, tmp_path)
    assert (code, out.splitlines()[1]) == (1, "EU_CENTRAL_1 not drained: 1 schedule")


def test_in_flight_reads_every_page_of_the_logs(dev: DevServer, target: Destination) -> None:
    target.answer("/flaky", Answer(503), Answer(200))
    target.answer("/dead", Answer(489, {"Upstash-NonRetryable-Error": "true"}))
    with sdk_client("EU_CENTRAL_1", config=load_config(dev.env())) as eu:
        done = [
            message_id(eu.message.publish_json(url=target.url(path), body={}))
            for path in ("/hook", "/flaky", "/dead")
        ]
        for waiting in range(3):
            eu.message.publish_json(url=target.url(), body={"n": waiting}, delay="1h")
        for finished in done:
            dev.wait_for(finished)
        states = {log.state for log in eu.log.list().logs}
        assert {LogState.DELIVERED, LogState.FAILED, LogState.RETRY} <= states
        assert in_flight(eu) == in_flight(eu, page_size=2) == 3
        counted = region_status(eu, "EU_CENTRAL_1", page_size=1)
    assert (counted.in_flight, counted.dlq, counted.drained) == (3, 1, False)


def test_a_refused_token_is_named_never_shown(
    dev: DevServer, target: Destination, tmp_path: Path
) -> None:
    wrong = "wrong-token-8d1f0c2b7a"
    # A proxy that echoes the Authorization header in its 401 page: the token is still hidden.
    target.scripts["/v2/schedules"] = lambda delivery, _: Answer(
        401, body=f"denied: {delivery.headers['authorization']}".encode()
    )
    echoing = {**dev.env("US_EAST_1"), "EU_CENTRAL_1_QSTASH_URL": target.base,
               "EU_CENTRAL_1_QSTASH_TOKEN": wrong}  # fmt: skip
    refused = {**dev.env("US_EAST_1"), "EU_CENTRAL_1_QSTASH_TOKEN": wrong}
    outputs = []
    for env in (echoing, refused):
        code, out, err = status(env, tmp_path)
        outputs.append(out)
        assert (code, err) == (2, "")
        line = out.splitlines()[1]
        assert line.startswith(
            f"EU_CENTRAL_1 unknown: cannot ask {env['EU_CENTRAL_1_QSTASH_URL']}: "
            "the token was refused (HTTP 401)"
        ), line
        assert wrong not in out + err
        assert "US_EAST_1 (primary): nothing yet" in out  # the other region is still reported
    assert "denied: Bearer [token]" in outputs[0]
    code, out, err = status(refused, tmp_path, "--json")
    assert code == 2
    assert json.loads(out)["regions"] == {"US_EAST_1": {**DRAINED, "drained": True}}
    assert err.startswith("error: EU_CENTRAL_1: cannot ask ")
    assert wrong not in out + err


def test_an_unreachable_region_is_named_with_its_cause(dev: DevServer, tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {**dev.env("US_EAST_1"), "EU_CENTRAL_1_QSTASH_URL": f"http://127.0.0.1:{port}"}
    code, out, _ = status(env, tmp_path)
    assert code == 2
    assert out.splitlines()[1] == (
        f"EU_CENTRAL_1 unknown: cannot ask http://127.0.0.1:{port}: unreachable: ConnectError: "
        "[Errno 111] Connection refused"
    )
    assert env["EU_CENTRAL_1_QSTASH_TOKEN"] not in out


def test_a_region_with_keys_but_no_url_or_token_cannot_be_checked(
    dev: DevServer, tmp_path: Path
) -> None:
    gone = ("EU_CENTRAL_1_QSTASH_URL", "EU_CENTRAL_1_QSTASH_TOKEN")
    env = {name: value for name, value in dev.env("US_EAST_1").items() if name not in gone}
    code, out, _ = status(env, tmp_path)
    assert code == 2
    assert out.splitlines()[1] == (
        "EU_CENTRAL_1 unknown: EU_CENTRAL_1_QSTASH_URL and EU_CENTRAL_1_QSTASH_TOKEN are not "
        "both set: set them to ask this region"
    )


def test_only_the_primary_configured_is_nothing_to_drain(dev: DevServer, tmp_path: Path) -> None:
    env = {name: value for name, value in dev.env("US_EAST_1").items()
           if not name.startswith("EU_CENTRAL_1_")}  # fmt: skip
    code, out, _ = status(env, tmp_path)
    assert (code, out.splitlines()) == (
        0, ["primary region: US_EAST_1", "US_EAST_1 (primary): nothing yet"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"QSTASH_TOKEN": "t"}, "migrate status needs migration mode"),
        ({**DEMO_ENV, "QSTASH_DEV": "true"}, "unset QSTASH_DEV"),
    ],
)
def test_outside_migration_mode_it_says_what_is_missing(
    tmp_path: Path, env: dict[str, str], error: str
) -> None:
    code, out, err = status(env, tmp_path)
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert error in err


@pytest.mark.parametrize(
    ("command", "missing", "extra"),
    [(["migrate", "status"], "qstash", "publish"), (["dev", "--us-port", "0"], "cronsim", "cli")],
)
def test_a_missing_sdk_or_cron_library_names_its_extra(
    command: list[str], missing: str, extra: str
) -> None:
    script = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from qstash_receiver.cli import main\n"
        f"raise SystemExit(main({command!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={**DEMO_ENV, "PATH": ""},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f'pip install "qstash-receiver[{extra}]"' in done.stderr
    assert "Traceback" not in done.stderr
