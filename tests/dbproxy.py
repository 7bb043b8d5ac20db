"""A TCP proxy in front of PostgreSQL that a test can take away and bring back.

Away, it either refuses (each connection is closed as soon as it is taken) or goes silent
(connections are taken and never answered, like a host that drops everything); either way the
connections it was carrying are cut, as a network or server failure cuts them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Away = Literal["refuse", "silent"]


class DatabaseProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port: int = self.listener.getsockname()[1]
        self.mode: Away | Literal["forward"] = "forward"
        self.connections = 0  # taken while away: how many times a client tried
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def away(self, how: Away) -> None:
        with self._lock:
            self.mode = how
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def back(self) -> None:
        with self._lock:
            self.mode = "forward"
            for sock in self._open:  # silent connections: cut, so clients connect anew
                sock.close()
            self._open.clear()

    def close(self) -> None:
        self._stopped.set()
        self.away("refuse")
        self.listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                mode = self.mode
                if mode != "forward":
                    self.connections += 1
                if mode == "refuse":
                    client.close()
                    continue
                self._open.append(client)
            if mode == "forward":
                self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open.append(server)
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def proxy_to(upstream: tuple[str, int]) -> Iterator[DatabaseProxy]:
    proxy = DatabaseProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
