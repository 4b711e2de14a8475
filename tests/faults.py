"""Faults to put between the guard and a real Redis: a stall (SIGSTOP, as a hung or paused
server) and a proxy that loses replies (the request reaches Redis, the answer never comes back,
as when a connection breaks mid-command). Imported as a top-level module by tests here."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from qstash_demo.services import free_port
from stores import RedisServer


@contextmanager
def stalled(server: RedisServer) -> Iterator[None]:
    """The server stopped (SIGSTOP) for the block: connections are accepted by the kernel and
    commands queue in its buffers, to run when it resumes (SIGCONT), as a hung server's do."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


class ReplyLoser:
    """A TCP proxy to Redis on a loopback port; :meth:`lose_next` makes it drop the next
    reply (the command has run) and cut that connection, as a broken link does."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self.losing = 0
        self.lost = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_next(self, count: int = 1) -> None:
        with self._lock:
            self.losing = count

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if replies:
                    with self._lock:
                        lose, self.losing = self.losing > 0, max(0, self.losing - 1)
                    if lose:
                        self.lost += 1
                        break
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        for end in self._open:
            end.close()
