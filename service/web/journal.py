"""A durable journal of the signed webhooks the database could not take, replayed once it is back.

Twilio does not retry an incoming-message webhook, so a text the database cannot take is lost
unless it is kept somewhere first. A web process appends each such request, exactly as Twilio
signed it, to a file of its own in the journal folder: one JSON line, written and fsynced
before the answer goes. Any process that finds the database reachable replays every file's
requests through the app, oldest first, and marks each one done in its file as it goes; a file
whose requests are all done is removed. A replay the database already holds changes nothing: a
text is known by its MessageSid. The files hold people's numbers and words, so they are the
owner's alone and live only until replayed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from service.db import sessions

log = logging.getLogger(__name__)

MAX_BYTES = 16 * 1024 * 1024  # some 10,000 texts a process: far beyond any outage's worth
RETRY_SECONDS = 5.0  # how often a process with requests waiting looks for the database
REPLAY = "peerline.replay"  # the request environ's mark of a replay (never journaled again)
ANSWERED = "peerline.replay.answered"  # ... and the replies the request got when it came


@dataclass(frozen=True)
class Entry:
    """One signed request, as Twilio sent it."""

    id: str
    at: str  # when it arrived (ISO 8601, UTC)
    url: str  # the URL Twilio signed
    form: list[tuple[str, str]]
    signature: str
    answered: list[str]  # the replies it got at once, recorded with it when it is replayed


class JournalFull(Exception):
    """This process's journal has reached its bound; the request could not be kept."""


class Journal:
    """The journal folder, and this process's own file in it."""

    def __init__(self, folder: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.path = self._fresh_path()
        self._lock = threading.Lock()
        self._replayer: threading.Thread | None = None
        self._looked_for_leftovers = False

    def append(
        self,
        url: str,
        form: MultiDict[str, str],
        signature: str,
        *,
        answered: list[str],
        now: datetime,
    ) -> Entry:
        """Keep one request durably (written and fsynced) before it is answered."""
        entry = Entry(
            id=uuid.uuid4().hex,
            at=now.isoformat(),
            url=url,
            form=list(form.items(multi=True)),
            signature=signature,
            answered=answered,
        )
        line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode()
        with self._lock:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        self.path = self._fresh_path()  # being replayed: never wait for it
                        continue
                    if os.fstat(fd).st_nlink == 0:
                        continue  # a replay removed the file after we opened it: open anew
                    if os.fstat(fd).st_size + len(line) > self.max_bytes:
                        raise JournalFull(str(self.path))
                    os.write(fd, line)
                    os.fsync(fd)
                    break
                finally:
                    os.close(fd)
            _sync_folder(self.folder)
        return entry

    def _fresh_path(self) -> Path:
        return self.folder / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"

    def waiting(self) -> bool:
        """Whether any process's requests are waiting in the folder."""
        return any(path.stat().st_size > 0 for path in self._files())

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    # -- replaying ------------------------------------------------------------------------------

    def replay(self, app: Flask) -> int:
        """Replay every waiting request, oldest first; return how many went through.

        Stops at the first request the database still cannot take. Files another process is
        replaying at this moment are left to it.
        """
        done = 0
        with self._locked_files() as files:
            waiting = [(entry, path) for path, fd in files.items() for entry in _unfinished(fd)]
            waiting.sort(key=lambda item: item[0].at)  # stable: a file keeps its own order
            left = Counter(path for _, path in waiting)
            for entry, path in waiting:
                if not _resend(app, entry):
                    log.info("the database is still away: %d request(s) wait", len(waiting) - done)
                    break
                _mark_done(files[path], entry.id)
                left[path] -= 1
                done += 1
            for path in files:
                if not left[path]:
                    path.unlink(missing_ok=True)
        if done:
            log.info("replayed %d journaled request(s)", done)
        return done

    def replay_in_background(self, app: Flask) -> None:
        """Start this process's replayer, unless it runs already: it looks for the database every
        few seconds and stops once nothing waits."""
        with self._lock:
            if self._replayer is not None and self._replayer.is_alive():
                return
            self._replayer = threading.Thread(
                target=self._replay_until_empty, args=(app,), name="peerline-journal", daemon=True
            )
            self._replayer.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for this process's replayer, if one runs, to stop (it stops once nothing waits)."""
        with self._lock:
            replayer = self._replayer
        if replayer is not None:
            replayer.join(timeout)

    def replay_leftovers(self, app: Flask) -> None:
        """Once a process: replay what a process before this one (killed, say) left waiting."""
        if self._looked_for_leftovers:
            return
        self._looked_for_leftovers = True
        if self.waiting():
            self.replay_in_background(app)

    def _replay_until_empty(self, app: Flask) -> None:
        while self.waiting():
            if database_reachable(app):
                try:
                    self.replay(app)
                except Exception:
                    log.exception("replaying the journal failed; trying again shortly")
            if self.waiting():
                time.sleep(RETRY_SECONDS)

    @contextmanager
    def _locked_files(self) -> Iterator[dict[Path, int]]:
        files: dict[Path, int] = {}
        try:
            for path in self._files():
                try:
                    fd = os.open(path, os.O_RDWR | os.O_APPEND)
                except FileNotFoundError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)  # being written to or replayed this instant: next time
                    continue
                files[path] = fd
            yield files
        finally:
            for fd in files.values():
                os.close(fd)


def database_reachable(app: Flask) -> bool:
    try:
        with sessions(app)() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def _unfinished(fd: int) -> Iterator[Entry]:
    """The entries of a locked file not yet marked done, in order."""
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(os.dup(fd), "rb") as reader:
        records = [json.loads(line) for line in reader if line.strip()]
    finished = {record["done"] for record in records if "done" in record}
    for record in records:
        if "id" in record and record["id"] not in finished:
            yield Entry(
                id=record["id"],
                at=record["at"],
                url=record["url"],
                form=[(key, value) for key, value in record["form"]],
                signature=record["signature"],
                answered=list(record.get("answered", [])),
            )


def _mark_done(fd: int, entry_id: str) -> None:
    os.write(fd, (json.dumps({"done": entry_id}) + "\n").encode())
    os.fsync(fd)


def _resend(app: Flask, entry: Entry) -> bool:
    """Send one request through the app again, as Twilio sent it; False if the database is
    still away (the app answers 503 to a replay it cannot take)."""
    parts = urlsplit(entry.url)
    with app.test_request_context(
        parts.path,
        method="POST",
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        data=MultiDict(entry.form),
        headers={"X-Twilio-Signature": entry.signature},
        environ_overrides={REPLAY: entry.id, ANSWERED: entry.answered},
    ):
        response = app.full_dispatch_request()
    if response.status_code >= 500:
        return False
    if response.status_code >= 400:
        log.warning("journaled request %s was refused (%s); dropped", entry.id, response.status)
    return True


def _sync_folder(folder: Path) -> None:
    """Make the file's creation itself durable, not only its contents."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
