"""News: RSS parsing, stable ids, relevance, dedup, point-in-time, and life without a network."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from invest.runtime.oracle import (
    NewsConfig,
    NewsDigest,
    NewsUnavailableError,
    RssNewsSource,
    YFinanceNewsSource,
    gather_news,
    sources_from_config,
)
from invest.runtime.oracle.news.items import (
    NO_NEWS,
    dedupe,
    make_item,
    news_id,
    parse_feed,
    point_in_time,
    tag_relevance,
)
from invest.runtime.oracle.news.sources import items_from_yfinance
from tests.runtime.oracle.support import FIXTURES

FEED = (FIXTURES / "market_news.rss.xml").read_bytes()
NOW = datetime(2024, 6, 12, 20, 0, tzinfo=UTC)


def _mock_feeds(routes: dict[str, bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = routes.get(str(request.url))
        return httpx.Response(200, content=body) if body else httpx.Response(404)

    return httpx.MockTransport(handler)


def test_a_recorded_rss_feed_parses_into_items_with_times_and_ids() -> None:
    items = parse_feed(FEED, source="fixture", fetched=NOW)
    assert len(items) == 8
    first = items[0]
    assert first.title == "Apple (AAPL) beats earnings estimates as iPhone sales rise"
    assert first.published == datetime(2024, 6, 10, 13, 30, tzinfo=UTC)
    assert first.fetched == NOW
    assert first.source == "Market Headlines"
    assert first.summary == "Apple reported quarterly revenue above expectations."
    assert first.id == news_id(first.title, first.link)
    undated = items[-1]
    assert undated.published == NOW  # no date in the feed: seen at fetch time


def test_ids_are_stable_under_case_spacing_and_tracking_parameters() -> None:
    a = news_id("Apple beats  estimates", "https://News.example.com/x/?utm_source=rss")
    b = news_id("apple beats estimates.", "https://news.example.com/x")
    assert a == b
    assert len(a) == 12
    assert a != news_id("Apple misses estimates", "https://news.example.com/x")


def test_relevance_keeps_items_naming_a_symbol_or_its_alias() -> None:
    items = parse_feed(FEED, source="fixture", fetched=NOW)
    kept = tag_relevance(items, ["AAPL", "MSFT"], {"AAPL": ["Apple"]})
    titles = {i.title: i.symbols for i in kept}
    assert titles["Microsoft shares slip after cloud guidance"] == ("MSFT",)
    assert titles["Regulators open probe into $AAPL app store fees"] == ("AAPL",)
    assert titles["Apple supplier warns on demand"] == ("AAPL",)
    assert "Oil prices steady as OPEC meets" not in titles
    assert "A quiet day for AAPLX and other funds" not in titles


def test_a_one_letter_ticker_needs_a_dollar_sign_or_parentheses() -> None:
    items = [
        make_item("A big day for markets", "u1", source="s", published=NOW, fetched=NOW),
        make_item("Agilent (A) raises guidance", "u2", source="s", published=NOW, fetched=NOW),
    ]
    assert [i.title for i in tag_relevance(items, ["A"])] == ["Agilent (A) raises guidance"]


def test_the_same_story_from_two_feeds_is_kept_once_the_earliest() -> None:
    items = tag_relevance(parse_feed(FEED, source="fixture", fetched=NOW), ["AAPL"])
    apple = [i for i in dedupe(items) if "beats earnings" in i.title]
    assert len(apple) == 1
    assert apple[0].published == datetime(2024, 6, 10, 13, 30, tzinfo=UTC)


def test_a_cycle_only_sees_news_published_before_it() -> None:
    items = parse_feed(FEED, source="fixture", fetched=NOW)
    seen = point_in_time(items, NOW, timedelta(days=7))
    titles = {i.title for i in seen}
    assert "Regulators open probe into $AAPL app store fees" not in titles  # published later
    assert "Apple supplier warns on demand" not in titles  # too old
    assert "Microsoft shares slip after cloud guidance" in titles
    digest = NewsDigest(tuple(items), "8 headlines")
    assert digest.as_of(datetime(2024, 6, 1, tzinfo=UTC)).items == (items[5],)
    assert digest.as_of(datetime(2020, 1, 1, tzinfo=UTC)).note == NO_NEWS


def test_gather_news_reads_feeds_per_symbol_and_filters_everything() -> None:
    feed = "https://feeds.example.com/rss?s={symbol}"
    transport = _mock_feeds(
        {
            "https://feeds.example.com/rss?s=AAPL": FEED,
            "https://feeds.example.com/rss?s=MSFT": FEED,
        }
    )
    config = NewsConfig(feeds=(feed,), aliases={"AAPL": ("Apple",)})
    digest = gather_news(
        sources_from_config(config, transport), ["AAPL", "MSFT"], now=NOW, config=config
    )
    assert digest.available
    assert all(i.published <= NOW for i in digest.items)
    assert len({i.id for i in digest.items}) == len(digest.items)
    assert len({i.title.casefold().rstrip(".") for i in digest.items}) == len(digest.items)
    capped = gather_news(
        sources_from_config(config, transport),
        ["AAPL", "MSFT"],
        now=NOW,
        config=config.model_copy(update={"max_per_symbol": 2}),
    )
    assert len(capped.for_symbol("AAPL")) == 2
    # feed items fetched for a symbol count for it even when the title does not name it
    oil = [i for i in digest.items if i.title.startswith("Oil prices")]
    assert oil
    assert set(oil[0].symbols) == {"AAPL", "MSFT"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_a_network_there_is_no_news_and_it_says_so() -> None:
    source = RssNewsSource([f"http://127.0.0.1:{_closed_port()}/rss"], timeout_s=0.5)
    with pytest.raises(NewsUnavailableError):
        source.fetch(["AAPL"], NOW)
    digest = gather_news([source], ["AAPL"], now=NOW)
    assert digest.items == ()
    assert digest.note.startswith(NO_NEWS)
    assert "rss" in digest.note


def test_no_configured_source_means_no_news_available() -> None:
    digest = gather_news([], ["AAPL"], now=NOW)
    assert not digest.available
    assert digest.note == f"{NO_NEWS}: no news source configured"


def test_one_dead_feed_does_not_hide_the_others() -> None:
    transport = _mock_feeds({"https://ok.example.com/rss": FEED})
    source = RssNewsSource(
        ["https://ok.example.com/rss", "https://dead.example.com/rss"], transport=transport
    )
    assert source.fetch(["AAPL"], NOW)


def test_yfinance_news_in_both_shapes_becomes_items() -> None:
    raw = [
        {
            "title": "Apple unveils new chips",
            "link": "https://finance.example.com/a",
            "publisher": "Wire",
            "providerPublishTime": 1718100000,
        },
        {
            "id": "x",
            "content": {
                "title": "Apple shares climb",
                "pubDate": "2024-06-11T14:00:00Z",
                "canonicalUrl": {"url": "https://finance.example.com/b"},
                "provider": {"displayName": "Yahoo Finance"},
            },
        },
        {"content": {"title": ""}},
        "junk",
    ]
    items = items_from_yfinance(raw, "AAPL", NOW)
    assert [i.title for i in items] == ["Apple unveils new chips", "Apple shares climb"]
    assert items[0].published == datetime.fromtimestamp(1718100000, tz=UTC)
    assert items[1].published == datetime(2024, 6, 11, 14, tzinfo=UTC)
    assert items[1].source == "Yahoo Finance"
    assert all(i.symbols == ("AAPL",) for i in items)


def test_yfinance_offline_gives_no_news_instead_of_an_error() -> None:
    def offline(symbol: str) -> list[dict[str, object]]:
        raise ConnectionError("no network")

    digest = gather_news([YFinanceNewsSource(offline)], ["AAPL"], now=NOW)
    assert digest.note.startswith(NO_NEWS)
