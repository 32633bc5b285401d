"""Headlines for the oracle: parsed, tagged with the symbols they concern, deduplicated.

Every :class:`NewsItem` has a stable id (a hash of its normalised title and
link), the time it was published and the time it was fetched. A cycle at time
``t`` only sees items published at or before ``t``, so a backtest never reads
tomorrow's news. Without a network the digest is empty and says so.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

logger = logging.getLogger(__name__)

NO_NEWS = "no news available"
_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class NewsItem:
    """One headline.

    Attributes:
        id: stable id, the hash of the normalised title and link.
        title: the headline.
        link: where it came from.
        source: feed or provider name.
        published: when it was published (UTC); the fetch time when the feed omits it.
        fetched: when the appliance read it (UTC).
        summary: first lines of the article, tags removed.
        symbols: symbols in play it concerns.
    """

    id: str
    title: str
    link: str
    source: str
    published: datetime
    fetched: datetime
    summary: str = ""
    symbols: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for audit records."""
        return {
            "id": self.id,
            "title": self.title,
            "link": self.link,
            "source": self.source,
            "published": self.published.isoformat(),
            "fetched": self.fetched.isoformat(),
            "symbols": list(self.symbols),
        }


def normalise_title(title: str) -> str:
    """Casefolded, single-spaced, without surrounding punctuation."""
    return _SPACE.sub(" ", title).strip().strip(".,;:!?\"'").casefold()


def normalise_link(link: str) -> str:
    """Lowercase scheme and host, no fragment, no tracking parameters, no trailing slash."""
    parts = urlsplit(link.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not k.startswith("utm_")])
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def news_id(title: str, link: str) -> str:
    """Stable id of a headline: 12 hex digits of sha256(normalised title | link)."""
    key = f"{normalise_title(title)}|{normalise_link(link)}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def make_item(
    title: str,
    link: str,
    *,
    source: str,
    published: datetime | None,
    fetched: datetime,
    summary: str = "",
    symbols: Sequence[str] = (),
) -> NewsItem:
    """Build an item with its id; times are converted to UTC."""
    clean_title = _SPACE.sub(" ", _TAG.sub("", title)).strip()
    when = fetched if published is None else published
    return NewsItem(
        id=news_id(clean_title, link),
        title=clean_title,
        link=link.strip(),
        source=source,
        published=when.astimezone(UTC),
        fetched=fetched.astimezone(UTC),
        summary=_SPACE.sub(" ", _TAG.sub(" ", summary)).strip()[:500],
        symbols=tuple(symbols),
    )


def parse_feed(content: bytes, *, source: str, fetched: datetime) -> list[NewsItem]:
    """Parse RSS or Atom bytes into items (entries without a title are skipped)."""
    parsed = feedparser.parse(io.BytesIO(content))
    items = []
    for entry in parsed.entries:
        title = str(entry.get("title", "")).strip()
        if not title:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC) if stamp else None
        feed_title = parsed.feed.get("title", "") if parsed.get("feed") else ""
        items.append(
            make_item(
                title,
                str(entry.get("link", "")),
                source=str(feed_title or source),
                published=published,
                fetched=fetched,
                summary=str(entry.get("summary", "")),
            )
        )
    return items


def _patterns(symbol: str, aliases: Iterable[str]) -> list[re.Pattern[str]]:
    sym = re.escape(symbol)
    # "$A", "(A)", "NYSE: A" always count; a bare ticker only from two letters up.
    found = [re.compile(rf"(\${sym}|\({sym}\)|[A-Z]{{3,6}}:\s?{sym})(?![A-Za-z0-9])")]
    if len(symbol) >= 2:
        found.append(re.compile(rf"(?<![A-Za-z0-9$]){sym}(?![A-Za-z0-9])"))
    found += [
        re.compile(rf"(?<![A-Za-z0-9]){re.escape(a)}(?![A-Za-z0-9])", re.IGNORECASE)
        for a in aliases
        if a.strip()
    ]
    return found


def tag_relevance(
    items: Iterable[NewsItem],
    symbols: Sequence[str],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> list[NewsItem]:
    """Keep items about the ``symbols`` in play; set each item's ``symbols``.

    An item counts for a symbol when its source tagged it with that symbol, or
    its title or summary names the ticker or one of the symbol's aliases.
    """
    aliases = aliases or {}
    patterns = {s: _patterns(s, aliases.get(s, ())) for s in symbols}
    kept = []
    for item in items:
        text = f"{item.title} {item.summary}"
        hits = [s for s in symbols if s in item.symbols or any(p.search(text) for p in patterns[s])]
        if hits:
            kept.append(replace(item, symbols=tuple(hits)))
    return kept


def dedupe(items: Iterable[NewsItem]) -> list[NewsItem]:
    """Drop repeats (same id, or same title from another feed); keep the earliest, merge symbols."""
    by_title: dict[str, NewsItem] = {}
    for item in sorted(items, key=lambda i: (i.published, i.id)):
        key = normalise_title(item.title)
        old = by_title.get(key)
        if old is None:
            by_title[key] = item
        else:
            merged = tuple(dict.fromkeys(old.symbols + item.symbols))
            by_title[key] = replace(old, symbols=merged)
    return list(by_title.values())


def point_in_time(
    items: Iterable[NewsItem], at: datetime, max_age: timedelta | None = None
) -> list[NewsItem]:
    """Items published at or before ``at`` (and not older than ``max_age``)."""
    oldest = None if max_age is None else at - max_age
    return [i for i in items if i.published <= at and (oldest is None or i.published >= oldest)]


@dataclass(frozen=True, slots=True)
class NewsDigest:
    """The headlines a cycle may use, and a note when there are none."""

    items: tuple[NewsItem, ...] = ()
    note: str = NO_NEWS

    @property
    def available(self) -> bool:
        """True when there is at least one headline."""
        return bool(self.items)

    def for_symbol(self, symbol: str) -> tuple[NewsItem, ...]:
        """Items about ``symbol``, newest first."""
        return tuple(i for i in self.items if symbol in i.symbols)

    def as_of(self, at: datetime, max_age: timedelta | None = None) -> NewsDigest:
        """The digest a cycle at ``at`` may see."""
        kept = tuple(point_in_time(self.items, at, max_age))
        return NewsDigest(kept, self.note if kept else _no_news(self.note))

    @classmethod
    def empty(cls, reason: str = "") -> NewsDigest:
        """No headlines, with the reason in the note."""
        return cls((), f"{NO_NEWS}: {reason}" if reason else NO_NEWS)


def _no_news(note: str) -> str:
    return note if note.startswith(NO_NEWS) else NO_NEWS


def cap_per_symbol(items: Iterable[NewsItem], symbols: Sequence[str], limit: int) -> list[NewsItem]:
    """At most ``limit`` newest items per symbol (an item counts for all its symbols)."""
    newest = sorted(items, key=lambda i: (i.published, i.id), reverse=True)
    counts = dict.fromkeys(symbols, 0)
    kept = []
    for item in newest:
        room = [s for s in item.symbols if counts.get(s, limit) < limit]
        if room:
            for s in room:
                counts[s] += 1
            kept.append(item)
    return kept
