"""The engine log: where it is, how to follow it, and how to filter its lines."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from invest.runtime.logs import engine_log_candidates, engine_log_file, find_engine_log
from invest.runtime.paths import Paths

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")
#: Bytes read at most per poll, so a huge burst cannot stall the worker.
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the log, with the level of its record (continuations inherit it)."""

    text: str
    level: str | None = None

    def matches(self, min_level: str | None, account: str | None) -> bool:
        """True when the line is at least ``min_level`` and mentions ``account``."""
        if min_level and _RANK.get(self.level or "INFO", 1) < _RANK.get(min_level, 0):
            return False
        return not account or account in self.text


def candidates(paths: Paths) -> list[Path]:
    """Where the engine log may be, most specific first (the runtime's one answer)."""
    return engine_log_candidates(paths.home)


def find_log(paths: Paths) -> Path:
    """The first existing candidate, else the engine's own file (it may appear later)."""
    return find_engine_log(paths.home) or engine_log_file(paths.home)


def parse(lines: list[str], level: str | None = None) -> list[LogLine]:
    """Lines with their record level; lines without one inherit the previous level."""
    out = []
    for text in lines:
        m = _LEVEL.search(text[:80])
        if m:
            level = m.group(1)
        out.append(LogLine(text, level))
    return out


class LogTail:
    """Follows one file across appends, truncation and rotation.

    Args:
        path: the log file (it need not exist yet).
        backlog: lines shown from the end of the file on the first read.
    """

    def __init__(self, path: Path, backlog: int = 500) -> None:
        self.path = path
        self.backlog = backlog
        self._inode: int | None = None
        self._pos = 0
        self._partial = ""
        self._level: str | None = None

    def poll(self) -> tuple[list[LogLine], bool]:
        """New complete lines since the last call, and whether the view must be reset."""
        try:
            st = self.path.stat()
        except OSError:
            reset = self._inode is not None
            self._inode, self._pos, self._partial = None, 0, ""
            return [], reset
        reset = False
        if self._inode != st.st_ino or st.st_size < self._pos:
            reset = self._inode is not None
            first = self._inode is None
            self._inode, self._partial = st.st_ino, ""
            self._pos = self._start(st.st_size) if first else 0
        if st.st_size == self._pos:
            return [], reset
        with self.path.open("rb") as fh:
            fh.seek(self._pos)
            data = fh.read(CHUNK)
        self._pos += len(data)
        text = self._partial + data.decode("utf-8", errors="replace")
        *complete, self._partial = text.split("\n")
        lines = parse(complete, self._level)
        if lines:
            self._level = lines[-1].level
        return lines, reset

    def _start(self, size: int) -> int:
        """Offset where the last ``backlog`` lines begin."""
        if size == 0:
            return 0
        with self.path.open("rb") as fh:
            take = min(size, max(self.backlog * 200, 4096))
            fh.seek(size - take)
            tail = fh.read(take)
        lines = deque(tail.split(b"\n"), maxlen=self.backlog + 1)
        return size - len(b"\n".join(lines))
