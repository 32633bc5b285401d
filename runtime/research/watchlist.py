"""Research watchlists: one ranked list per day, saved as JSON, read back point in time.

The research agent (:mod:`invest.runtime.research.agent`) saves a :class:`Watchlist`
as ``<dir>/<name>/<day>.json``. An account subscribes by name:
:func:`effective_universe` adds the watchlist's symbols to its universe's candidates,
and :func:`load_watchlist` reads the newest list at or before a day, so a replay only
sees lists that existed then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from invest.runtime.oracle.store import safe_name, write_json_atomic

logger = logging.getLogger(__name__)

WatchlistSource = Literal["llm", "rules"]


@dataclass(frozen=True, slots=True)
class Watchlist:
    """A research watchlist of one day.

    Attributes:
        day: the session it was built on (from data up to that session).
        symbols: ranked symbols, best first.
        reasons: why each symbol is on the list.
        source: ``llm`` (the model's ranking) or ``rules`` (the screen's order).
        name: the research watchlist's name (what accounts subscribe to).
        note: why the rules order was used, or a short summary.
    """

    day: date
    symbols: tuple[str, ...]
    reasons: Mapping[str, str] = field(default_factory=dict)
    source: WatchlistSource = "rules"
    name: str = "research"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {
            "name": self.name,
            "day": self.day.isoformat(),
            "symbols": list(self.symbols),
            "reasons": {s: self.reasons[s] for s in self.symbols if s in self.reasons},
            "source": self.source,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Watchlist:
        """Inverse of :meth:`as_dict`.

        Raises:
            ValueError: a missing or malformed field.
        """
        try:
            source = str(raw.get("source", "rules"))
            if source not in ("llm", "rules"):
                raise ValueError(f"unknown watchlist source {source!r}")
            return cls(
                day=date.fromisoformat(str(raw["day"])),
                symbols=tuple(str(s) for s in raw["symbols"]),
                reasons={str(k): str(v) for k, v in dict(raw.get("reasons", {})).items()},
                source="llm" if source == "llm" else "rules",
                name=str(raw.get("name", "research")),
                note=str(raw.get("note", "")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a watchlist: {e}") from None


def save_watchlist(directory: Path, watchlist: Watchlist) -> Path:
    """Write ``<directory>/<name>/<day>.json`` atomically; return its path."""
    path = directory / safe_name(watchlist.name) / f"{watchlist.day.isoformat()}.json"
    write_json_atomic(path, watchlist.as_dict())
    return path


def load_watchlist(directory: Path, name: str, as_of: date | None = None) -> Watchlist | None:
    """The newest watchlist ``name`` built on or before ``as_of`` (None: the newest of all).

    A file that cannot be read is skipped with a log line, and an older one is used.
    """
    folder = directory / safe_name(name)
    if not folder.is_dir():
        return None
    days: list[tuple[date, Path]] = []
    for path in folder.glob("*.json"):
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        if as_of is None or day <= as_of:
            days.append((day, path))
    for _, path in sorted(days, reverse=True):
        try:
            return Watchlist.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            logger.error("watchlist file %s is unreadable (%s); trying an older one", path, e)
    return None


def watchlist_symbols(directory: Path, name: str, until: date | None = None) -> tuple[str, ...]:
    """Every symbol watchlist ``name`` ever listed up to ``until``, in first-seen order.

    A backtest loads these into its Market, so that each day's list (read point in
    time with :func:`load_watchlist`) finds its bars.
    """
    folder = directory / safe_name(name)
    seen: dict[str, None] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            wl = Watchlist.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
        if until is None or wl.day <= until:
            seen.update(dict.fromkeys(wl.symbols))
    return tuple(seen)


def effective_universe(universe: Sequence[str], watchlist: Watchlist | None) -> tuple[str, ...]:
    """The account's universe followed by the watchlist's symbols it lacks (order kept)."""
    extra = watchlist.symbols if watchlist is not None else ()
    return tuple(dict.fromkeys((*universe, *extra)))
