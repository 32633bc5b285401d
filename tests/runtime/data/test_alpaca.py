"""The alpaca provider against a local HTTP server replaying recorded /v2/stocks/bars bodies."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from invest.runtime.adapters.alpaca.data import AlpacaData, frame_from_alpaca
from invest.runtime.data.base import MarketData
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alpaca"
KEY, SECRET = "PKTESTKEY0000000", "s3cr3t-never-shown"


def body(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    key_header: str | None
    secret_header: str | None


@dataclass
class Replay:
    """Answers requests with (status, body) in order; the last answer repeats."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[Replay]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            replay.seen.append(
                Seen(
                    url.path,
                    params,
                    self.headers.get("APCA-API-KEY-ID"),
                    self.headers.get("APCA-API-SECRET-KEY"),
                )
            )
            i = min(len(replay.seen), len(replay.answers)) - 1
            status, text = replay.answers[i]
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    replay.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield replay
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def provider(server: Replay) -> Iterator[AlpacaData]:
    src = AlpacaData(KEY, SECRET, url_override=server.url, retry_attempts=1, retry_wait_s=0)
    try:
        yield src
    finally:
        src.close()


def test_recorded_bars_become_an_adjusted_ohlcv_frame(server: Replay, provider: AlpacaData) -> None:
    server.answers = [(200, body("bars_aapl_msft.json"))]
    frame = provider.load(["AAPL", "MSFT"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert frame.symbols == ("AAPL", "MSFT")
    assert [str(d) for d in frame.dates] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert frame.close[0].tolist() == [184.25, 369.1]
    assert frame.open is not None
    assert frame.open[0].tolist() == [187.15, 371.81]
    assert frame.high is not None
    assert frame.high[2].tolist() == [183.0872, 373.0]
    assert frame.low is not None
    assert frame.low[1].tolist() == [183.43, 368.51]
    assert frame.volume is not None
    assert frame.volume[0].tolist() == [82488674, 25258581]
    assert frame.adjusted is True
    assert frame.source == "alpaca"


def test_the_request_is_daily_all_adjusted_iex_bars_for_the_new_york_days(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(200, body("bars_aapl_msft.json"))]
    provider.load(["AAPL", "MSFT"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    (seen,) = server.seen
    assert seen.path == "/v2/stocks/bars"
    assert seen.params["symbols"] == "AAPL,MSFT"
    assert seen.params["timeframe"] == "1Day"
    assert seen.params["adjustment"] == "all"
    assert seen.params["feed"] == "iex"
    assert seen.params["start"] == "2024-01-02T05:00:00+00:00"
    assert seen.params["end"] == "2024-01-05T04:59:59+00:00"
    assert (seen.key_header, seen.secret_header) == (KEY, SECRET)


def test_pages_are_followed_until_next_page_token_is_null(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(200, body("bars_page1.json")), (200, body("bars_page2.json"))]
    frame = provider.load(["AAPL", "MSFT"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert len(server.seen) == 2
    assert "page_token" not in server.seen[0].params
    assert (
        server.seen[1].params["page_token"]
        == json.loads(body("bars_page1.json"))["next_page_token"]
    )
    assert frame.close[:, 1].tolist() == [369.1, 368.9, 366.32]  # MSFT spans both pages


def test_summer_bars_stamped_at_four_utc_keep_their_new_york_date(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(200, body("bars_summer_aapl.json"))]
    frame = provider.load(["AAPL"], start=date(2024, 7, 1), end=date(2024, 7, 2))
    assert [str(d) for d in frame.dates] == ["2024-07-01", "2024-07-02"]


def test_the_feed_and_adjustment_are_configurable(server: Replay) -> None:
    server.answers = [(200, body("bars_aapl_msft.json"))]
    src = AlpacaData(KEY, SECRET, feed="sip", adjustment="raw", url_override=server.url)
    try:
        frame = src.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    finally:
        src.close()
    assert server.seen[0].params["feed"] == "sip"
    assert server.seen[0].params["adjustment"] == "raw"
    assert frame.adjusted is False


def test_a_symbol_without_bars_is_a_data_error_naming_it(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(200, body("bars_aapl_msft.json"))]
    with pytest.raises(DataError, match="no bars for ZZZZ") as err:
        provider.load(["AAPL", "ZZZZ"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert not isinstance(err.value, DataUnavailableError)


def test_a_403_becomes_data_unavailable_and_never_shows_the_keys(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(403, body("error_403.json"))]
    with pytest.raises(DataUnavailableError, match=r"HTTP 403: forbidden\.") as err:
        provider.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert len(server.seen) == 1  # a refusal is not retried
    text = f"{err.value} {err.value!r} {provider!r}"
    assert KEY not in text
    assert SECRET not in text


def test_a_429_is_retried_then_becomes_data_unavailable(
    server: Replay, provider: AlpacaData
) -> None:
    server.answers = [(429, body("error_429.json"))]
    with pytest.raises(DataUnavailableError, match="rate limit"):
        provider.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert len(server.seen) == 2  # the first try and retry_attempts=1


def test_a_429_that_clears_on_retry_returns_the_bars(server: Replay, provider: AlpacaData) -> None:
    server.answers = [(429, body("error_429.json")), (200, body("bars_aapl_msft.json"))]
    frame = provider.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert len(frame) == 3


def test_a_400_is_a_data_error_with_alpacas_message(server: Replay, provider: AlpacaData) -> None:
    server.answers = [(400, body("error_400.json"))]
    with pytest.raises(DataError, match="invalid symbol") as err:
        provider.load(["AAPL$"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    assert not isinstance(err.value, DataUnavailableError)


def test_an_unreachable_server_becomes_data_unavailable() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = AlpacaData(KEY, SECRET, url_override=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(DataUnavailableError, match="ConnectionError") as err:
            src.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    finally:
        src.close()
    assert SECRET not in str(err.value)


def test_missing_keys_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="API key id and a secret key"):
        AlpacaData(KEY, None)
    with pytest.raises(ConfigError):
        AlpacaData(SecretStr(""), SecretStr(SECRET))


def test_an_unknown_feed_is_a_config_error_listing_the_feeds() -> None:
    with pytest.raises(ConfigError, match="unknown Alpaca feed 'nasdaq'; use one of: iex, sip"):
        AlpacaData(KEY, SECRET, feed="nasdaq")


def test_secretstr_keys_are_accepted_and_sent(server: Replay) -> None:
    server.answers = [(200, body("bars_aapl_msft.json"))]
    src = AlpacaData(SecretStr(KEY), SecretStr(SECRET), url_override=server.url)
    try:
        src.load(["AAPL"], start=date(2024, 1, 2), end=date(2024, 1, 4))
    finally:
        src.close()
    assert (server.seen[0].key_header, server.seen[0].secret_header) == (KEY, SECRET)


def test_the_provider_shows_no_keys_and_is_a_market_data_source() -> None:
    src = AlpacaData(KEY, SECRET)
    assert isinstance(src, MarketData)
    assert KEY not in repr(src)
    assert SECRET not in repr(src)
    assert KEY not in repr(vars(src))
    assert SECRET not in repr(vars(src))
    assert src.symbols() == ()


def test_frame_from_alpaca_matches_symbols_case_insensitively() -> None:
    bars = json.loads(body("bars_aapl_msft.json"))["bars"]
    frame = frame_from_alpaca(bars, ["msft"])
    assert frame.symbols == ("msft",)
    assert frame.close[:, 0].tolist() == [369.1, 368.9, 366.32]


def test_a_malformed_bar_is_a_data_error() -> None:
    with pytest.raises(DataError, match="malformed"):
        frame_from_alpaca({"AAPL": [{"t": "2024-01-02T05:00:00Z", "c": 1.0}]}, ["AAPL"])
