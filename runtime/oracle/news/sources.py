"""Where headlines come from: RSS feeds over httpx and, when online, yfinance.

:func:`gather_news` asks every source, tags, deduplicates and filters the items
point-in-time. A source that cannot be reached is skipped; when none can, the
digest is empty and its note says "no news available". It never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from invest.runtime.config.oracle import NewsConfig
from invest.runtime.oracle.errors import NewsUnavailableError
from invest.runtime.oracle.news.items import (
    NewsDigest,
    NewsItem,
    cap_per_symbol,
    dedupe,
    make_item,
    parse_feed,
    point_in_time,
    tag_relevance,
)

logger = logging.getLogger(__name__)
_MAX_FEED_BYTES = 5_000_000


class NewsSource(Protocol):
    """Anything that returns recent headlines for some symbols."""

    name: str

    def fetch(self, symbols: Sequence[str], now: datetime) -> list[NewsItem]:
        """Recent items; items tagged with a symbol are about it.

        Raises:
            NewsUnavailableError: the source could not be reached at all.
        """
        ...


class RssNewsSource:
    """RSS/Atom feeds; a ``{symbol}`` in a URL makes one request per symbol.

    Args:
        feeds: feed URLs.
        timeout_s: timeout per request.
        transport: an httpx transport, for tests.
    """

    name = "rss"

    def __init__(
        self,
        feeds: Sequence[str],
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.feeds = tuple(feeds)
        self.timeout_s = timeout_s
        self.transport = transport

    def fetch(self, symbols: Sequence[str], now: datetime) -> list[NewsItem]:
        """Read every feed; raise only when not one of them could be read."""
        requests = [
            (url.replace("{symbol}", quote(s)), (s,))
            for url in self.feeds
            for s in (symbols if "{symbol}" in url else [""])
        ]
        items: list[NewsItem] = []
        failures: list[str] = []
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as http:
            for url, tags in requests:
                try:
                    resp = http.get(url, follow_redirects=True)
                    resp.raise_for_status()
                except httpx.HTTPError as e:
                    failures.append(f"{url}: {type(e).__name__}")
                    continue
                found = parse_feed(resp.content[:_MAX_FEED_BYTES], source=url, fetched=now)
                items += [_tagged(i, tags) for i in found]
        if failures:
            logger.warning("news feeds failed: %s", "; ".join(failures))
        if requests and len(failures) == len(requests):
            raise NewsUnavailableError(f"no feed could be read ({len(failures)} tried)")
        return items


def _tagged(item: NewsItem, tags: tuple[str, ...]) -> NewsItem:
    symbols = tuple(t for t in tags if t)
    if not symbols:
        return item
    return replace(item, symbols=symbols)


def _yfinance_news(symbol: str) -> list[dict[str, Any]]:
    import yfinance  # imported here: slow to import, and only needed online

    news = yfinance.Ticker(symbol).news
    return list(news or [])


class YFinanceNewsSource:
    """Yahoo Finance news per symbol through yfinance (imported on first use).

    Args:
        fetch: symbol -> raw news dicts; defaults to ``yfinance.Ticker(s).news``.
    """

    name = "yfinance"

    def __init__(self, fetch: Callable[[str], list[dict[str, Any]]] | None = None) -> None:
        self._fetch = fetch or _yfinance_news

    def fetch(self, symbols: Sequence[str], now: datetime) -> list[NewsItem]:
        """News of each symbol; raise only when every symbol failed."""
        items: list[NewsItem] = []
        failed = 0
        for symbol in symbols:
            try:
                raw = self._fetch(symbol)
            except Exception as e:  # yfinance raises almost anything when offline
                logger.warning("yfinance news for %s failed: %s", symbol, type(e).__name__)
                failed += 1
                continue
            items += items_from_yfinance(raw, symbol, now)
        if symbols and failed == len(symbols):
            raise NewsUnavailableError("yfinance news unavailable")
        return items


def items_from_yfinance(raw: Sequence[Any], symbol: str, fetched: datetime) -> list[NewsItem]:
    """Convert yfinance news dicts (old flat shape or new ``content`` shape) to items."""
    items = []
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        nested = entry.get("content")
        content: dict[str, Any] = nested if isinstance(nested, dict) else entry
        title = str(content.get("title") or "")
        if not title:
            continue
        link = content.get("link") or (content.get("canonicalUrl") or {}).get("url") or ""
        provider = content.get("publisher") or (content.get("provider") or {}).get("displayName")
        items.append(
            make_item(
                title,
                str(link),
                source=str(provider or "yahoo"),
                published=_yahoo_time(content),
                fetched=fetched,
                summary=str(content.get("summary") or ""),
                symbols=(symbol,),
            )
        )
    return items


def _yahoo_time(content: Mapping[str, Any]) -> datetime | None:
    epoch = content.get("providerPublishTime")
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, tz=UTC)
    stamp = content.get("pubDate") or content.get("displayTime")
    if isinstance(stamp, str):
        try:
            parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def sources_from_config(
    config: NewsConfig, transport: httpx.BaseTransport | None = None
) -> list[NewsSource]:
    """The sources a :class:`NewsConfig` asks for."""
    sources: list[NewsSource] = []
    if config.feeds:
        sources.append(RssNewsSource(config.feeds, timeout_s=config.timeout_s, transport=transport))
    if config.yfinance:
        sources.append(YFinanceNewsSource())
    return sources


def gather_news(
    sources: Sequence[NewsSource],
    symbols: Sequence[str],
    *,
    now: datetime,
    config: NewsConfig | None = None,
) -> NewsDigest:
    """Ask every source and return the relevant, deduplicated, point-in-time headlines.

    Never raises: unreachable sources are skipped, and with none left the
    digest is empty with a "no news available" note saying why.
    """
    config = config or NewsConfig()
    if not sources:
        return NewsDigest.empty("no news source configured")
    if not symbols:
        return NewsDigest.empty("no symbols in play")
    found: list[NewsItem] = []
    failures: list[str] = []
    for source in sources:
        try:
            found += source.fetch(symbols, now)
        except NewsUnavailableError as e:
            failures.append(f"{source.name}: {e}")
    if failures and len(failures) == len(sources):
        return NewsDigest.empty("; ".join(failures))
    items = tag_relevance(found, symbols, config.aliases)
    items = point_in_time(dedupe(items), now, timedelta(days=config.max_age_days))
    items = cap_per_symbol(items, symbols, config.max_per_symbol)
    if not items:
        return NewsDigest.empty("no recent headline about the symbols in play")
    note = f"{len(items)} headlines" + (
        f" (unreachable: {'; '.join(failures)})" if failures else ""
    )
    return NewsDigest(tuple(items), note)
