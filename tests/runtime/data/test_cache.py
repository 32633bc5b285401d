"""The SQLite bar cache: what it serves without calling the provider, and when it must call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.data.base import MarketData
from invest.runtime.data.cache import BarCache, CachedMarketData, gaps, merge
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.errors import DataError, DataUnavailableError

D = date.fromisoformat
TODAY = D("2024-03-01")  # a Friday


def weekdays(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


class FakeProvider:
    """Weekday bars for any symbol up to ``published``; counts and records its calls."""

    def __init__(self, *, published: date = TODAY, ohlc: bool = True, name: str = "fake") -> None:
        self.name = name
        self.published = published
        self.ohlc = ohlc
        self.calls: list[tuple[tuple[str, ...], date | None, date | None]] = []
        self.scale: dict[str, float] = {}
        self.fail: Exception | None = None

    def symbols(self) -> tuple[str, ...]:
        return ()

    def price(self, sym: str, day: date) -> float:
        return (100.0 + day.toordinal() % 97 + len(sym)) * self.scale.get(sym, 1.0)

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        self.calls.append((tuple(symbols), start, end))
        if self.fail is not None:
            raise self.fail
        sessions = weekdays(start or D("2023-06-01"), min(end or self.published, self.published))
        close = np.array([[self.price(s, d) for s in symbols] for d in sessions]).reshape(
            len(sessions), len(symbols)
        )
        return BarFrame(
            dates=np.array(sessions, dtype="datetime64[D]"),
            symbols=tuple(symbols),
            close=close,
            open=close - 1 if self.ohlc else None,
            high=close + 1 if self.ohlc else None,
            low=close - 2 if self.ohlc else None,
            volume=np.full_like(close, 1000.0) if self.ohlc else None,
            adjusted=True,
            source=self.name,
        )


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[BarCache]:
    with BarCache(tmp_path / "bars.sqlite") as c:
        yield c


@pytest.fixture
def inner() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def cached(inner: FakeProvider, cache: BarCache) -> CachedMarketData:
    return CachedMarketData(inner, cache, today=lambda: TODAY)


def assert_same(a: BarFrame, b: BarFrame) -> None:
    assert a.symbols == b.symbols
    np.testing.assert_array_equal(a.dates, b.dates)
    np.testing.assert_array_equal(a.close, b.close)
    for name in ("open", "high", "low", "volume"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y)
    assert a.adjusted == b.adjusted


def test_a_second_load_of_the_same_range_makes_no_provider_call(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    first = cached.load(["AAA", "BB"], D("2024-01-02"), D("2024-01-31"))
    assert len(inner.calls) == 1
    second = cached.load(["AAA", "BB"], D("2024-01-02"), D("2024-01-31"))
    assert len(inner.calls) == 1
    assert_same(first, second)
    assert_same(first, inner.load(["AAA", "BB"], D("2024-01-02"), D("2024-01-31")))


def test_the_cache_survives_reopening_the_file(tmp_path: Path, inner: FakeProvider) -> None:
    path = tmp_path / "bars.sqlite"
    with BarCache(path) as c:
        CachedMarketData(inner, c, today=lambda: TODAY).load(
            ["AAA"], D("2024-01-02"), D("2024-01-31")
        )
    with BarCache(path) as c:
        frame = CachedMarketData(inner, c, today=lambda: TODAY).load(
            ["AAA"], D("2024-01-02"), D("2024-01-31")
        )
    assert len(inner.calls) == 1
    assert len(frame) == 22


def test_a_sub_range_of_a_cached_range_is_served_from_the_cache(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    frame = cached.load(["AAA"], D("2024-01-10"), D("2024-01-12"))
    assert len(inner.calls) == 1
    assert [str(d) for d in frame.dates] == ["2024-01-10", "2024-01-11", "2024-01-12"]


def test_only_the_missing_symbols_are_fetched(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    frame = cached.load(["AAA", "BB", "C"], D("2024-01-02"), D("2024-01-31"))
    assert inner.calls[1] == (("BB", "C"), D("2024-01-02"), D("2024-01-31"))
    assert frame.symbols == ("AAA", "BB", "C")
    assert not np.isnan(frame.close).any()


def test_a_longer_range_fetches_only_the_new_days_plus_one_overlap_bar(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))  # ends on a Wednesday
    frame = cached.load(["AAA"], D("2024-01-02"), D("2024-02-09"))
    # The gap starts 02-01; the fetch reaches back to the last cached bar (01-31).
    assert inner.calls[1] == (("AAA",), D("2024-01-31"), D("2024-02-09"))
    assert_same(frame, inner.load(["AAA"], D("2024-01-02"), D("2024-02-09")))


def test_an_earlier_start_fetches_up_to_the_first_cached_bar(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA"], D("2024-01-10"), D("2024-01-31"))
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    assert inner.calls[1] == (("AAA",), D("2024-01-02"), D("2024-01-10"))
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    assert len(inner.calls) == 2


def test_a_weekend_gap_is_fetched_with_an_overlap_bar_and_then_covered(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-05"))  # through Friday
    frame = cached.load(["AAA"], D("2024-01-02"), D("2024-01-07"))  # through Sunday
    assert inner.calls[1] == (("AAA",), D("2024-01-05"), D("2024-01-07"))
    assert len(frame) == 4
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-07"))
    assert len(inner.calls) == 2


def test_no_start_is_cached_as_from_the_beginning(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    first = cached.load(["AAA"], None, D("2024-01-31"))
    assert inner.calls[0] == (("AAA",), None, D("2024-01-31"))
    second = cached.load(["AAA"], None, D("2024-01-31"))
    assert len(inner.calls) == 1
    assert_same(first, second)
    assert str(first.dates[0]) == "2023-06-01"


def test_todays_bar_is_fetched_every_time_and_never_stored(
    cached: CachedMarketData, inner: FakeProvider, cache: BarCache
) -> None:
    a = cached.load(["AAA"], D("2024-02-20"), None)
    b = cached.load(["AAA"], D("2024-02-20"), None)
    assert str(a.dates[-1]) == str(b.dates[-1]) == "2024-03-01"
    assert len(inner.calls) == 2
    assert inner.calls[1] == (("AAA",), D("2024-02-29"), TODAY)  # overlap bar + today
    assert cache.read("fake", "AAA", TODAY, TODAY) == []
    assert cache.covered("fake", "AAA") == [(D("2024-02-20"), D("2024-02-29"))]


def test_coverage_stops_at_the_newest_bar_when_the_provider_is_late(
    cache: BarCache,
) -> None:
    late = FakeProvider(published=D("2024-02-27"))  # Wednesday and Thursday not out yet
    cached = CachedMarketData(late, cache, today=lambda: TODAY)
    cached.load(["AAA"], D("2024-02-20"), D("2024-02-29"))
    assert cache.covered("fake", "AAA") == [(D("2024-02-20"), D("2024-02-27"))]
    late.published = TODAY
    frame = cached.load(["AAA"], D("2024-02-20"), D("2024-02-29"))
    assert str(frame.dates[-1]) == "2024-02-29"
    assert inner_days(late.calls[-1]) == (D("2024-02-27"), D("2024-02-29"))


def inner_days(call: tuple[tuple[str, ...], date | None, date | None]) -> tuple[date | None, ...]:
    return call[1:]


def test_a_split_between_fetches_drops_the_symbol_and_fetches_it_again(
    cached: CachedMarketData, inner: FakeProvider
) -> None:
    cached.load(["AAA", "BB"], D("2024-01-02"), D("2024-01-31"))
    inner.scale["AAA"] = 0.5  # a 2:1 split re-adjusts AAA's whole history
    frame = cached.load(["AAA", "BB"], D("2024-01-02"), D("2024-02-09"))
    assert inner.calls[1] == (("AAA", "BB"), D("2024-01-31"), D("2024-02-09"))
    assert inner.calls[2] == (("AAA",), D("2024-01-02"), D("2024-02-09"))
    assert_same(frame, inner.load(["AAA", "BB"], D("2024-01-02"), D("2024-02-09")))


def test_an_unavailable_provider_marks_nothing_covered(
    cached: CachedMarketData, inner: FakeProvider, cache: BarCache
) -> None:
    inner.fail = DataUnavailableError("offline")
    with pytest.raises(DataUnavailableError):
        cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    assert cache.covered("fake", "AAA") == []
    inner.fail = None
    assert len(cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))) == 22


def test_a_closes_only_provider_stays_closes_only(cache: BarCache) -> None:
    closes = FakeProvider(ohlc=False)
    cached = CachedMarketData(closes, cache, today=lambda: TODAY)
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    frame = cached.load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    assert (frame.open, frame.high, frame.low, frame.volume) == (None, None, None, None)


def test_sources_do_not_share_bars(cache: BarCache) -> None:
    a, b = FakeProvider(name="a"), FakeProvider(name="b")
    CachedMarketData(a, cache, today=lambda: TODAY).load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    CachedMarketData(b, cache, today=lambda: TODAY).load(["AAA"], D("2024-01-02"), D("2024-01-31"))
    assert len(b.calls) == 1


def test_symbols_include_the_cached_ones(cached: CachedMarketData) -> None:
    assert cached.symbols() == ()
    cached.load(["BB", "AAA"], D("2024-01-02"), D("2024-01-05"))
    assert cached.symbols() == ("AAA", "BB")


def test_duplicate_symbols_are_refused(cached: CachedMarketData) -> None:
    with pytest.raises(DataError, match="duplicate symbols"):
        cached.load(["AAA", "AAA"], D("2024-01-02"), D("2024-01-05"))


def test_the_cached_source_is_a_market_data_provider_with_the_inner_name(
    cached: CachedMarketData,
) -> None:
    assert isinstance(cached, MarketData)
    assert cached.name == "fake"


def test_cached_sample_data_equals_the_sample(cache: BarCache) -> None:
    sample = SampleData()
    cached = CachedMarketData(sample, cache, today=lambda: TODAY)
    syms = list(sample.symbols()[:3])
    direct = sample.load(syms, D("2015-01-01"), D("2016-12-31"))
    assert_same(cached.load(syms, D("2015-01-01"), D("2016-12-31")), direct)
    assert_same(cached.load(syms, D("2015-01-01"), D("2016-12-31")), direct)


def test_the_file_is_in_wal_mode_with_the_documented_tables(cache: BarCache) -> None:
    assert cache.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert set(cache.db.table_names()) >= {"bars", "coverage"}
    assert [c.name for c in cache.db.table("bars").columns] == [
        "source",
        "symbol",
        "day",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "adjusted",
        "fetched_at",
    ]
    assert cache.db.table("bars").pks == ["source", "symbol", "day"]


def test_forget_drops_bars_and_coverage(cached: CachedMarketData, cache: BarCache) -> None:
    cached.load(["AAA"], D("2024-01-02"), D("2024-01-05"))
    cache.forget("fake", "AAA")
    assert cache.covered("fake", "AAA") == []
    assert cache.read("fake", "AAA", D("2024-01-01"), D("2024-12-31")) == []


# -- day range arithmetic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("covered", "lo", "hi", "expected"),
    [
        ([], "2024-01-01", "2024-01-10", [("2024-01-01", "2024-01-10")]),
        ([("2024-01-01", "2024-01-10")], "2024-01-02", "2024-01-09", []),
        ([("2024-01-03", "2024-01-05")], "2024-01-01", "2024-01-10",
         [("2024-01-01", "2024-01-02"), ("2024-01-06", "2024-01-10")]),
        ([("2024-01-01", "2024-01-02"), ("2024-01-05", "2024-01-06")], "2024-01-01", "2024-01-06",
         [("2024-01-03", "2024-01-04")]),
        ([("2023-01-01", "2023-12-31")], "2024-01-01", "2024-01-02", [("2024-01-01", "2024-01-02")]),
    ],
)  # fmt: skip
def test_gaps_are_the_uncovered_parts_of_the_request(
    covered: list[tuple[str, str]], lo: str, hi: str, expected: list[tuple[str, str]]
) -> None:
    ranges = [(D(a), D(b)) for a, b in covered]
    assert gaps(ranges, D(lo), D(hi)) == [(D(a), D(b)) for a, b in expected]


def test_merge_joins_overlapping_and_touching_ranges() -> None:
    ranges = [(D("2024-01-05"), D("2024-01-06")), (D("2024-01-01"), D("2024-01-04")),
              (D("2024-01-10"), D("2024-01-12")), (D("2024-01-11"), D("2024-01-11"))]  # fmt: skip
    assert merge(ranges) == [
        (D("2024-01-01"), D("2024-01-06")),
        (D("2024-01-10"), D("2024-01-12")),
    ]
