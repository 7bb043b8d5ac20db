"""A fast local Twilio for benchmarks: answers Messages.json, counts, and checks nothing else.

    .venv/bin/python bench/twilio_stub.py --port 0     # prints its base URL, serves until killed

It runs in a process of its own (start_stub), so that it does not share a GIL with what is
being measured; on a 2-core machine it still shares the cores. HTTP/1.1 with keep-alive,
Content-Length bodies only, TCP_NODELAY, one asyncio loop:

- POST /2010-04-01/Accounts/{AC...}/Messages.json: 201 and a Twilio-shaped Message (a unique
  SM sid, status queued), counted with its arrival time;
- GET  /2010-04-01/Accounts/{AC...}/Messages.json: an empty page of Twilio's message list;
- GET  /stats: {"count", "arrivals" (epoch seconds), "requests", "connections", "cpu_seconds"};
- POST /reset: forget the count and the arrivals.

Requests to an account must carry Basic auth naming that account (401 otherwise). Nothing else
is validated: tests/twilio_fake.py is the checking fake, this one is for speed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from email.utils import formatdate
from itertools import count
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlsplit

_MESSAGES = re.compile(rb"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json(?:\?.*)?")
_REASONS = {200: b"OK", 201: b"Created", 401: b"Unauthorized", 404: b"Not Found", 411: b"Length Required"}  # fmt: skip


class StubStats(TypedDict):
    count: int  # Messages created since start or the last reset
    arrivals: list[float]  # when each arrived, epoch seconds
    requests: int  # every request answered, of any kind
    connections: int  # connections opened since start
    cpu_seconds: float  # the stub process's CPU time since start


class _Stub:
    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.requests = 0
        self.connections = 0
        self._serial = count(1)
        self._date = ("", 0)

    def now_rfc2822(self) -> str:
        second = int(time.time())
        if self._date[1] != second:
            self._date = (formatdate(second), second)
        return self._date[0]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                line, _, block = head[:-4].partition(b"\r\n")
                method, target, _version = line.split(b" ", 2)
                headers: dict[bytes, bytes] = {}
                for field in block.split(b"\r\n"):
                    name, _, value = field.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                if b"transfer-encoding" in headers:
                    status, payload = 411, {"message": "send a Content-Length"}
                    body = b""
                else:
                    length = int(headers.get(b"content-length", b"0"))
                    body = await reader.readexactly(length) if length else b""
                    status, payload = self.answer(method, target, headers, body)
                self.requests += 1
                data = json.dumps(payload).encode()
                close = headers.get(b"connection", b"").lower() == b"close" or status == 411
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n%s\r\n%s"
                    % (
                        status,
                        _REASONS.get(status, b"Other"),
                        len(data),
                        b"Connection: close\r\n" if close else b"",
                        data,
                    )
                )
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except asyncio.CancelledError:
            return  # shutting down with the connection idle: nothing is lost
        finally:
            writer.close()

    def answer(
        self, method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, Any]:
        found = _MESSAGES.fullmatch(target)
        if found is not None:
            account = found.group(1).decode()
            if not _authorised(headers.get(b"authorization", b""), account):
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            if method == b"POST":
                return 201, self.create(account, body)
            if method == b"GET":
                return 200, _empty_page(account, target.decode())
        elif target == b"/stats" and method == b"GET":
            return 200, self.stats()
        elif target == b"/reset" and method == b"POST":
            self.arrivals = []
            return 200, {"count": 0}
        return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}  # fmt: skip

    def create(self, account: str, body: bytes) -> dict[str, Any]:
        self.arrivals.append(time.time())
        form = dict(parse_qsl(body.decode()))
        sid = f"SM{next(self._serial):032x}"
        moment = self.now_rfc2822()
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": moment,
            "date_sent": None,
            "date_updated": moment,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }

    def stats(self) -> StubStats:
        return {
            "count": len(self.arrivals),
            "arrivals": self.arrivals,
            "requests": self.requests,
            "connections": self.connections,
            "cpu_seconds": time.process_time(),
        }


def _authorised(header: bytes, account: str) -> bool:
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).partition(b":")
    except binascii.Error:
        return False
    return user.decode(errors="replace") == account and bool(password)


def _empty_page(account: str, target: str) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{account}/Messages.json"
    return {
        "messages": [],
        "end": 0,
        "first_page_uri": f"{uri}?PageSize=50&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": None,
        "start": 0,
        "uri": target,
    }


async def _main(port: int) -> None:
    stub = _Stub()
    server = await asyncio.start_server(stub.serve, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{bound}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    async with server:
        await stopped.wait()


# -- the API the benchmark uses ----------------------------------------------------------------


def start_stub(port: int = 0) -> tuple[str, subprocess.Popen[str]]:
    """Start the stub in a process of its own; its base URL and the process."""
    process = subprocess.Popen(  # noqa: S603 - this very file, with our own interpreter
        [sys.executable, __file__, "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http://"):
        process.kill()
        process.wait()
        raise RuntimeError(f"the Twilio stub did not start (said {base_url!r})")
    return base_url, process


def _call(base_url: str, method: str, path: str) -> Any:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"stub {method} {path}: {response.status}")
        return json.loads(payload)
    finally:
        connection.close()


def stats(base_url: str) -> StubStats:
    """The stub's count, arrival times and CPU time."""
    found: StubStats = _call(base_url, "GET", "/stats")
    return found


def reset(base_url: str) -> None:
    """Forget the messages counted so far."""
    _call(base_url, "POST", "/reset")


def stop_stub(process: subprocess.Popen[str], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args().port))
