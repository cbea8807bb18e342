"""Where audit lines go: a stream (stdout) or a file appended to and rotated by size.

Both write a line with one write call; see AuditLog (telemetry/audit.py) for the guarantees."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("ztgate.telemetry.audit")

class StreamSink:
    """Standard output (a BufferedWriter): written and flushed per line."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write_line(self, line: bytes) -> None:
        _write_all(self._stream, line)
        self._stream.flush()

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        self._stream.flush()


class FileSink:
    """An O_APPEND file, one write call per line, optionally rotated by size.

    Cheap per line: the size is a running byte count (this writer's lines added to the size found
    at open), corrected by one stat of the path at most every CHECK_INTERVAL_S. That stat also notices
    when the path names another file than the one open (another process rotated it, or logrotate
    moved it away) and reopens, so external rotation works without a signal, within a second.

    Rotation, when the count says the next line would take the file past max_bytes (and the file is
    not empty): take an exclusive flock on `<path>.lock`, stat the path again, and only if it is
    still the file this writer has open and it is really full, shift path.(n-1) -> path.n ... and
    path -> path.1 (rename, so the oldest backup is dropped), then open a new path. Whoever loses
    the race finds the path already replaced and just reopens it. So with several processes sharing
    the file: every line lands whole in exactly one file (renames do not move open descriptors), and
    no rotation is done twice; each writer's lines stay in order across the files. What is loose:
    a writer counts other writers' bytes only as of its last stat, and a writer that has not yet
    noticed a rotation keeps appending to the renamed file (path.1), each for up to
    CHECK_INTERVAL_S; so a file can end past max_bytes by what the other writers wrote in about a
    second, and lines written around a rotation can be split between path.1 and path. A line can be
    lost only if the files rotate through all backups within one check interval while a writer
    still holds the oldest. The lock is held for a few renames; the flock call blocks the event loop
    only while another process rotates. With one writer, each file stays within max_bytes (unless
    a single line is larger).
    """

    CHECK_INTERVAL_S = 1.0

    def __init__(self, stream: BinaryIO, path: Path | None, *, max_bytes: int = 0, backups: int = 5) -> None:
        if max_bytes < 0 or backups < 0 or (max_bytes > 0 and backups < 1):
            raise ValueError("max_bytes must be >= 0, and backups >= 1 when rotating")
        self._stream = stream
        self._path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._lock_fd: int | None = None
        self._closed = False
        self._next_check = time.monotonic() + self.CHECK_INTERVAL_S
        self._size = 0
        self._ident: tuple[int, int] | None = None
        self._track()

    @property
    def size(self) -> int:
        """The running byte count (what this writer believes the file's size to be)."""
        return self._size

    def write_line(self, line: bytes) -> None:
        if self._closed:
            raise ValueError("audit log is closed")
        if self._path is not None:
            now = time.monotonic()
            if now >= self._next_check:
                self._check(now)
            if self._max_bytes and self._size > 0 and self._size + len(line) > self._max_bytes:
                self._rotate(len(line))
        _write_all(self._stream, line)
        self._size += len(line)

    def reopen(self) -> None:
        """Reopen the path (after logrotate or another process moved the file)."""
        if self._path is None or self._closed:
            return
        old = self._stream
        self._stream = open_append(self._path)
        self._track()
        old.close()

    def close(self) -> None:
        self._closed = True
        self._stream.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _track(self) -> None:
        try:
            st = os.fstat(self._stream.fileno())
        except (OSError, ValueError):
            return
        self._size = st.st_size
        self._ident = (st.st_dev, st.st_ino)

    def _check(self, now: float) -> None:
        """The occasional stat: follow a rotation done elsewhere, pick up other writers' bytes."""
        assert self._path is not None
        self._next_check = now + self.CHECK_INTERVAL_S
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self.reopen()  # moved away and not recreated: create it
            return
        if (st.st_dev, st.st_ino) != self._ident:
            self.reopen()
        else:
            self._size = st.st_size

    def _rotate(self, incoming: int) -> None:
        assert self._path is not None
        path = self._path
        if self._lock_fd is None:
            self._lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            try:
                st: os.stat_result | None = os.stat(path)
            except FileNotFoundError:
                st = None
            if (
                st is not None
                and (st.st_dev, st.st_ino) == self._ident
                and st.st_size > 0
                and st.st_size + incoming > self._max_bytes
            ):
                for n in range(self._backups - 1, 0, -1):
                    try:
                        os.replace(f"{path}.{n}", f"{path}.{n + 1}")
                    except FileNotFoundError:
                        pass
                os.replace(path, f"{path}.1")
            self.reopen()  # the new file: ours, another writer's, or the same one when it was not full
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._next_check = time.monotonic() + self.CHECK_INTERVAL_S


def open_append(path: Path) -> BinaryIO:
    # Unbuffered (one write call per line) and O_APPEND (lines from several processes never mix).
    return open(path, "ab", buffering=0, opener=_open_0600)


def _open_0600(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _write_all(stream: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = stream.write(view)
        if n is None:  # a non-blocking raw stream that would block
            raise BlockingIOError("audit sink would block")
        view = view[n:]
