"""``qstash-receiver doctor --redis-url``: what it says of a real Redis (with and without an
append-only file), of an eviction policy that can drop done marks, and of an unreachable one."""

from __future__ import annotations

from pathlib import Path

import pytest
from qstash_demo.services import free_port
from stores import redis_server

from qstash_receiver.cli import main
from qstash_receiver.cli.redis_check import findings, shown
from qstash_receiver.testing import DEMO_ENV


def doctor(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str) -> tuple[int, str]:
    env = tmp_path / "demo.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in DEMO_ENV.items()))
    status = main(["doctor", "--env-file", str(env), "--env-file-only", "--redis-url", url])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.mark.parametrize("persist", [True, False])
def test_doctor_reads_persistence_and_eviction_from_a_real_redis(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, persist: bool
) -> None:
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder, persist=persist) as server:
        status, out = doctor(capsys, tmp_path, server.url)
    assert status == 0
    assert "reachable                      yes (PING" in out
    assert "maxmemory-policy               noeviction" in out
    if persist:
        assert "append-only file (AOF) on" in out
        assert "Redis warnings (0)" in out
    else:
        assert "no append-only file" in out
        assert "Redis warnings (1)" in out
        assert "appendonly yes" in out


def test_doctor_says_an_unreachable_redis_fails_every_delivery(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out = doctor(capsys, tmp_path, f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert status == 1
    assert "reachable                      no (ConnectionError)" in out
    assert "hunter2" not in out
    assert ":****@127.0.0.1" in out


def test_an_allkeys_policy_is_a_warning() -> None:
    lines, warnings = findings({"aof_enabled": 1, "maxmemory_policy": "allkeys-lru"})
    assert ("maxmemory-policy", "allkeys-lru") in lines
    assert len(warnings) == 1
    assert "noeviction or a volatile-* policy" in warnings[0]
    assert findings({"aof_enabled": 1, "maxmemory_policy": "volatile-ttl"})[1] == []


def test_the_password_is_never_shown() -> None:
    assert shown("rediss://default:s3cret@host.example:6380/0") == (
        "rediss://default:****@host.example:6380/0"
    )
    assert shown("redis://localhost:6379") == "redis://localhost:6379"
