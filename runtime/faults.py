"""Storage faults: tell a full disk, a read-only home and a locked ledger apart.

SQLite and the OS report these as ``sqlite3.OperationalError`` or ``OSError``
with codes that mean little to a user ("disk I/O error", errno 30). This module
turns them into one :class:`~invest.runtime.errors.StorageError` whose message
says what happened and what to do, so commands print one line, the engine can
pause and retry instead of crashing, and nobody restores a backup over a healthy
ledger that merely sits on a read-only disk.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from invest.runtime.errors import StorageError

__all__ = ["storage_fault"]

#: SQLite extended codes of a failed write (EFBIG, EIO, a failing disk): reported as full.
_WRITE_IOERR = frozenset({"SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE"})
_FULL_ERRNO = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_READONLY_ERRNO = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def _kind(e: BaseException) -> str | None:
    if isinstance(e, sqlite3.Error):
        name = getattr(e, "sqlite_errorname", "") or ""
        text = str(e).lower()
        if name.startswith("SQLITE_FULL") or "disk is full" in text or name in _WRITE_IOERR:
            return "full"
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return "readonly"
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
            return "locked"
        if name.startswith("SQLITE_CANTOPEN") or "unable to open database" in text:
            return "unopenable"
        return None
    if isinstance(e, OSError):
        if e.errno in _FULL_ERRNO:
            return "full"
        if e.errno in _READONLY_ERRNO:
            return "readonly"
    return None


def storage_fault(error: BaseException, ledger: Path) -> StorageError | None:
    """The storage fault behind ``error`` (or its causes), or None when it is not one.

    Args:
        error: any exception; its ``__cause__``/``__context__`` chain is searched too.
        ledger: the ledger file, named in the message.
    """
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, StorageError):
            return e
        seen.add(id(e))
        kind = _kind(e)
        if kind is not None:
            return StorageError(_message(kind, e, ledger), kind)
        e = e.__cause__ or e.__context__
    return None


def _message(kind: str, e: BaseException, ledger: Path) -> str:
    home: Path | str = ledger.parent
    why = str(e)
    if isinstance(e, OSError):
        why = e.strerror or why
        home = e.filename or home  # the file the OS refused, which may not be the ledger's
    if kind == "full":
        return (
            f"the disk holding {home} is full ({why}): free space there and run the command "
            "again; the cycle was rolled back, nothing was half-written"
        )
    if kind == "readonly":
        return (
            f"{home} is read-only for this user ({why}): remount it read-write or give the "
            "service user write access; the ledger itself is fine, do not restore a backup"
        )
    if kind == "locked":
        return (
            f"the ledger {ledger} is locked by another writer ({why}): wait for it or stop it "
            "(one writer at a time; with the engine running, send commands through it)"
        )
    return (
        f"cannot open the ledger {ledger} ({why}): check that {home} exists and this user "
        "may write there"
    )
