"""One writer: the exclusive lock that every process writing a ledger holds.

The lock is ``fcntl.flock`` on a file beside the ledger (``ledger.sqlite.lock``
for ``ledger.sqlite``), so ``invest demo --ledger PATH`` locks that ledger and
nothing else. The kernel drops it when the holder dies, even on SIGKILL: there
is no stale lock to clean up. The file holds the holder's pid and role as one
JSON line, so that whoever is refused learns who holds the ledger and what to do.

* The engine holds it for its lifetime. A command that meets the engine refuses
  at once (``invest run`` sends its cycle over the control socket instead, and
  only gets here when no socket answers).
* A command (``invest run``, ``run-all``, ``demo``) waits a bounded time for
  another command: a cycle takes seconds, and the retry then finds the cycle
  done (``sink.done``) and sends nothing. The engine waits the same bounded time
  for a command at start-up.
* The lock file is never deleted: a process that opened a deleted lock file
  would lock a different inode than the next one.

Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from invest.runtime.errors import InvestError
from invest.runtime.faults import storage_fault

__all__ = [
    "DEFAULT_WAIT_S",
    "ENGINE",
    "Holder",
    "LedgerBusy",
    "WriterLock",
    "holder_of",
    "lock_path",
]

#: The engine's role; a command that meets it refuses at once instead of waiting.
ENGINE = "engine"
#: How long a writer waits for another command (a cycle takes seconds; a full demo longer).
DEFAULT_WAIT_S = 120.0
_POLL_S = 0.05


class LedgerBusy(InvestError):
    """Another process writes the ledger (the engine, or a command that outlived the wait).

    The command writes nothing and exits 2 with one line naming the holder and what
    to do: go through the engine's control socket, stop the engine, or try again.
    """


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a ledger's writer lock, as written in the lock file."""

    pid: int | None
    role: str
    #: For the engine: whether it listens on its control socket (``--no-socket``: False).
    socket: bool | None = None

    def name(self) -> str:
        """``the engine (pid 123)``, ``invest run (pid 45)``."""
        who = "the engine" if self.role == ENGINE else self.role
        return f"{who} (pid {self.pid if self.pid is not None else '?'})"


def lock_path(ledger: Path | str) -> Path:
    """The lock file of the ledger at ``ledger``: beside it, its name plus ``.lock``."""
    p = Path(ledger)
    return p.with_name(p.name + ".lock")


def _parse(raw: bytes) -> Holder | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("role"), str):
        return None
    pid = data.get("pid")
    socket = data.get("socket")
    return Holder(
        pid if isinstance(pid, int) else None,
        data["role"],
        socket if isinstance(socket, bool) else None,
    )


def _read(fd: int) -> Holder | None:
    try:
        return _parse(os.pread(fd, 4096, 0))
    except OSError:
        return None


def holder_of(ledger: Path | str) -> Holder | None:
    """Who holds the writer lock of ``ledger`` now, or None when nobody does (or unknown).

    Never takes the lock for longer than the probe and never creates the lock file.
    """
    path = lock_path(ledger)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def refusal(holder: Holder, ledger: Path, role: str) -> str:
    """The one line that tells ``role`` why it may not write ``ledger`` now."""
    if holder.role == ENGINE and role == ENGINE:
        pid = holder.pid if holder.pid is not None else "?"
        return f"another engine (pid {pid}) is running on {ledger.parent}"
    if holder.role == ENGINE and holder.socket is False:
        return (
            f"{holder.name()} owns the ledger {ledger} and has no control socket "
            "(started with --no-socket): stop the engine to write from the command line, "
            "or restart it with its socket"
        )
    if holder.role == ENGINE:
        return (
            f"{holder.name()} owns the ledger {ledger} and did not answer on its control "
            "socket: try again through the engine (`invest status`), or stop the engine"
        )
    return f"{holder.name()} is writing the ledger {ledger}: try again when it is done"


class WriterLock:
    """The writer lock of one ledger, held by one process in one role.

    Use as a context manager, or :meth:`acquire` and :meth:`release`.

    Args:
        ledger: the ledger file (the lock file goes beside it).
        role: who writes: ``engine``, ``invest run``, ``invest demo``...
        wait_s: how long to wait for a command holding the lock (never for the engine).
        socket: for the engine, whether it serves the control socket (said in refusals).
    """

    def __init__(
        self,
        ledger: Path | str,
        role: str,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        socket: bool | None = None,
    ) -> None:
        self.ledger = Path(ledger)
        self.path = lock_path(self.ledger)
        self.role = role
        self.wait_s = wait_s
        self.socket = socket
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait_s`` for a command that holds it.

        Raises:
            LedgerBusy: the engine holds it, or a command still held it after ``wait_s``.
            StorageError: the lock file cannot be created (read-only home, full disk).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            fault = storage_fault(e, self.ledger)
            if fault is None:
                raise
            raise fault from e
        try:
            self._wait(fd)
            record = {"pid": os.getpid(), "role": self.role}
            if self.socket is not None:
                record["socket"] = self.socket
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        except BaseException as e:
            os.close(fd)  # closing drops a lock taken here
            if isinstance(e, OSError):
                fault = storage_fault(e, self.ledger)
                if fault is not None:
                    raise fault from e
            raise
        self._fd = fd

    def _wait(self, fd: int) -> None:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holder = _read(fd)  # None: the holder has not written its name yet
            if holder is not None and holder.role == ENGINE:
                raise LedgerBusy(refusal(holder, self.ledger, self.role))
            if time.monotonic() >= deadline:
                who = holder or Holder(None, "another writer")
                raise LedgerBusy(
                    f"{refusal(who, self.ledger, self.role)} (waited {self.wait_s:g} s)"
                )
            time.sleep(_POLL_S)

    def release(self) -> None:
        """Drop the lock (the file stays: see the module's docstring)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
