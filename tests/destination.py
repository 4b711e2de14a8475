"""A scripted destination for the stand-in's tests: a real threaded HTTP server on loopback.

Imported as a top-level module by tests in this folder (pytest puts tests/ on ``sys.path``).
Each delivery is recorded; the answers are given by a script (by path), so one server can
play a destination, its callback URL and its failure-callback URL at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from loopback import QuietHandler, in_thread


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass(frozen=True)
class Delivery:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival


Script = Callable[[Delivery, int], Answer]  # (delivery, how many came to this path before)


@dataclass
class Destination:
    base: str = ""
    received: list[Delivery] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)  # for blocking scripts

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def answer(self, path: str, *answers: Answer) -> None:
        """Answer ``path`` with ``answers`` in turn, then the last one again."""
        self.scripts[path] = lambda _d, n: answers[min(n, len(answers) - 1)]

    def at(self, path: str) -> list[Delivery]:
        with self.changed:
            return [d for d in self.received if d.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Delivery]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.at(path)) >= count, timeout):
                raise TimeoutError(f"{path}: {len(self.at(path))} of {count} deliveries")
            return self.at(path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # bursts of deliveries must not be refused here


@contextmanager
def destination() -> Iterator[Destination]:
    state = Destination()

    class Handler(QuietHandler):
        def _record(self) -> None:
            headers, body = self.read_request()
            delivery = Delivery(self.command, self.path, headers, body, time.monotonic())
            with state.changed:
                before = len([d for d in state.received if d.path == self.path])
                state.received.append(delivery)
                state.changed.notify_all()
            script = state.scripts.get(self.path)
            answer = script(delivery, before) if script is not None else Answer()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_POST = do_PUT = do_GET = do_DELETE = do_PATCH = _record

    with in_thread(_Server(("127.0.0.1", 0), Handler)) as base:
        state.base = base
        try:
            yield state
        finally:
            state.release.set()
