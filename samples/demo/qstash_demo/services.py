"""Start local servers as subprocesses, wait until they answer, and always stop them."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

__all__ = ["Service", "Services", "free_port", "serving"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Service:
    """One running subprocess and where its output goes."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        return Path(self.log.name).read_bytes().decode("utf-8", "replace")

    def output_tail(self, lines: int = 20) -> str:
        """The last lines the process printed."""
        return "\n".join(self.output().splitlines()[-lines:])


class Services:
    """Subprocesses started together and stopped together (use ``with``)."""

    def __init__(self, stop_timeout: float = 5.0) -> None:
        self.running: list[Service] = []
        self.stop_timeout = stop_timeout

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        url: str,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path | None = None,
    ) -> Service:
        """Start ``argv`` with output captured to ``log_path`` (kept) or a temporary file."""
        log: IO[bytes]
        if log_path is None:
            log = tempfile.NamedTemporaryFile(prefix=f"qstash-demo-{name}-", suffix=".log")  # noqa: SIM115 (closed in stop_all)
        else:
            log = log_path.open("wb")  # closed in stop_all
        process = subprocess.Popen(  # noqa: S603 (our own fixed command lines)
            list(argv), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        service = Service(name, url, process, log)
        self.running.append(service)
        return service

    def wait_ready(self, service: Service, timeout: float = 40.0, path: str = "") -> str | None:
        """None once ``service.url + path`` answers HTTP at all, else why it did not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                return f"exited with status {service.process.returncode}"
            try:
                httpx.get(service.url + path, timeout=2.0)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            return None
        return f"did not answer within {timeout:.0f} s"

    def stop_all(self) -> None:
        """Terminate every process (kill after ``stop_timeout`` s) and close the logs."""
        for service in self.running:
            if service.process.poll() is None:
                service.process.terminate()
        for service in self.running:
            try:
                service.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
            service.log.close()
        self.running.clear()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_all()


@contextmanager
def serving(
    name: str,
    command: Callable[[int], Sequence[str]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    ready_path: str = "",
    ready_timeout: float = 60.0,
    stop_timeout: float = 20.0,
    log_path: Path | None = None,
) -> Iterator[Service]:
    """One service on a free loopback port (``command(port)``), ready, stopped on exit.

    The service's ``url`` is ``http://127.0.0.1:<port>``; it is ready once ``url + ready_path``
    answers HTTP at all.

    Raises:
        RuntimeError: it exited or did not answer within ``ready_timeout`` s (with its output).
    """
    port = free_port()
    with Services(stop_timeout) as services:
        service = services.start(
            name, command(port), url=f"http://127.0.0.1:{port}", env=env, cwd=cwd, log_path=log_path
        )
        why = services.wait_ready(service, ready_timeout, ready_path)
        if why is not None:
            raise RuntimeError(f"{name} {why}:\n{service.output()}")
        yield service
