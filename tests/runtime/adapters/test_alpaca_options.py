"""The alpaca chain source against a local HTTP server replaying recorded option snapshots.

alpaca-py's own client runs (request, pagination, error parsing); only the host
is ours. The bodies under tests/fixtures/options follow Alpaca's wire format
(see the README there).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from invest.runtime.adapters.alpaca.options import AlpacaOptionChainSource, chain_from_alpaca
from invest.runtime.clock import FixedClock, TradingCalendar
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError
from invest.runtime.options.chain import ChainSource
from invest.runtime.options.contracts import OptionContract, Right

FIXTURES = Path(__file__).parents[2] / "fixtures" / "options"
KEY, SECRET = "PKTESTKEY0000000", "s3cr3t-never-shown"
CHAIN_PATH = "/v1beta1/options/snapshots/AAPL"
TRADE_PATH = "/v2/stocks/trades/latest"
AS_OF = date(2024, 3, 13)
# 16:30 New York on Wednesday 2024-03-13, after the close.
CLOCK = FixedClock(datetime(2024, 3, 13, 20, 30, tzinfo=UTC))


def body(name: str) -> str:
    return (FIXTURES / name).read_text()


@dataclass
class Replay:
    """Answers each path with its (status, body) list in order; the last answer repeats."""

    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def calls(self, path: str) -> list[dict[str, str]]:
        return [params for p, params in self.seen if p == path]


@pytest.fixture
def server() -> Iterator[Replay]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            replay.seen.append((url.path, params))
            answers = replay.answers.get(url.path, [(404, '{"message": "no route"}')])
            status, text = answers[min(len(replay.calls(url.path)), len(answers)) - 1]
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

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
def calendar() -> TradingCalendar:
    return TradingCalendar(date(2024, 1, 1), date(2024, 12, 31))


@pytest.fixture
def source(server: Replay, calendar: TradingCalendar) -> Iterator[AlpacaOptionChainSource]:
    src = AlpacaOptionChainSource(
        KEY,
        SECRET,
        url_override=server.url,
        retry_attempts=1,
        retry_wait_s=0,
        clock=CLOCK,
        calendar=calendar,
    )
    try:
        yield src
    finally:
        src.close()


def recorded(server: Replay) -> None:
    server.answers[CHAIN_PATH] = [
        (200, body("alpaca_chain_page1.json")),
        (200, body("alpaca_chain_page2.json")),
    ]
    server.answers[TRADE_PATH] = [(200, body("alpaca_latest_trade_aapl.json"))]


def test_both_pages_become_one_chain_with_the_venues_quotes_iv_and_greeks(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    recorded(server)
    venue: ChainSource = source  # the interface the engine sees
    chain = venue.chain("aapl", AS_OF)
    assert (chain.underlying, chain.as_of, chain.source, chain.modelled) == (
        "AAPL",
        AS_OF,
        "alpaca",
        False,
    )
    assert chain.spot == 171.13
    assert len(chain) == 6
    assert chain.expiries() == [date(2024, 3, 15), date(2024, 4, 19)]
    call = chain.quote(OptionContract.from_occ("AAPL240315C00170000"))
    assert call is not None
    assert call.contract.right is Right.CALL
    assert call.contract.strike == 170
    assert (call.bid, call.ask, call.last) == (1.95, 2.02, 1.98)
    assert call.iv == 0.2231
    assert (call.delta, call.gamma, call.theta, call.vega) == (0.6012, 0.1365, -0.3521, 0.0427)
    put = chain.quote(OptionContract.from_occ("AAPL240419P00165000"))  # from page 2
    assert put is not None
    assert (put.bid, put.ask, put.iv, put.delta) == (2.65, 2.71, 0.219, -0.3102)


def test_a_snapshot_without_trade_iv_or_greeks_keeps_its_quote_with_none(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    recorded(server)
    bare = source.chain("AAPL", AS_OF).quote(OptionContract.from_occ("AAPL240419P00160000"))
    assert bare is not None
    assert (bare.bid, bare.ask) == (1.63, 1.67)
    assert (bare.last, bare.iv, bare.delta, bare.gamma, bare.theta, bare.vega) == (None,) * 6


def test_no_bid_is_kept_at_zero_and_no_ask_is_dropped_with_a_note(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    recorded(server)
    chain = source.chain("AAPL", AS_OF)
    far = chain.quote(OptionContract.from_occ("AAPL240419C00250000"))
    assert far is not None
    assert (far.bid, far.ask, far.mid) == (0.0, 0.01, 0.01)
    assert chain.quote(OptionContract.from_occ("AAPL240419C00300000")) is None  # ask 0
    assert chain.quote(OptionContract.from_occ("AAPL240315C00200000")) is None  # no quote
    assert chain.notes == ("2 contracts without an ask dropped",)


def test_the_request_asks_the_indicative_feed_for_the_expiry_window_and_follows_pages(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    recorded(server)
    source.chain("AAPL", AS_OF)
    first, second = server.calls(CHAIN_PATH)
    assert first["feed"] == "indicative"
    assert first["expiration_date_gte"] == "2024-03-13"
    assert first["expiration_date_lte"] == "2024-05-12"  # max_dte 60
    assert "page_token" not in first
    token = json.loads(body("alpaca_chain_page1.json"))["next_page_token"]
    assert second["page_token"] == token
    (trade,) = server.calls(TRADE_PATH)
    assert (trade["symbols"], trade["feed"]) == ("AAPL", "iex")


def test_from_config_takes_the_options_feed_and_the_stock_feed(
    server: Replay, calendar: TradingCalendar
) -> None:
    recorded(server)
    config = AlpacaConfig(feed="sip", options_feed="opra")
    src = AlpacaOptionChainSource.from_config(
        config, KEY, SECRET, url_override=server.url, clock=CLOCK, calendar=calendar
    )
    try:
        src.chain("AAPL", AS_OF)
    finally:
        src.close()
    assert server.calls(CHAIN_PATH)[0]["feed"] == "opra"
    assert server.calls(TRADE_PATH)[0]["feed"] == "sip"


@pytest.mark.parametrize(
    ("status", "name", "error", "words"),
    [
        (401, "alpaca_error_401.json", DataUnavailableError, "check the API key and secret"),
        (403, "alpaca_error_403_opra.json", DataUnavailableError, "does not permit querying opra"),
        (429, "alpaca_error_429.json", DataUnavailableError, "rate limit hit"),
        (400, "alpaca_error_400.json", DataError, "invalid underlying_symbol"),
    ],
)
def test_http_errors_become_the_projects_errors_with_alpacas_message(
    server: Replay,
    source: AlpacaOptionChainSource,
    status: int,
    name: str,
    error: type[Exception],
    words: str,
) -> None:
    server.answers[CHAIN_PATH] = [(status, body(name))]
    with pytest.raises(error, match=words) as caught:
        source.chain("AAPL", AS_OF)
    assert SECRET not in str(caught.value)
    if error is DataError:
        assert not isinstance(caught.value, DataUnavailableError)


def test_an_underlying_without_options_is_a_data_error_naming_it(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    server.answers[CHAIN_PATH] = [(200, body("alpaca_chain_empty.json"))]
    with pytest.raises(DataError, match="Alpaca lists no options of AAPL expiring by 2024-05-12"):
        source.chain("AAPL", AS_OF)


def test_a_past_date_is_refused_without_a_request(
    server: Replay, source: AlpacaOptionChainSource
) -> None:
    recorded(server)
    with pytest.raises(DataUnavailableError, match="must use the modelled chain"):
        source.chain("AAPL", date(2024, 3, 11))
    assert server.seen == []


def test_the_last_session_is_still_current_before_the_next_open(
    server: Replay, calendar: TradingCalendar
) -> None:
    recorded(server)
    saturday = FixedClock(datetime(2024, 3, 16, 15, 0, tzinfo=UTC))
    src = AlpacaOptionChainSource(
        KEY, SECRET, url_override=server.url, clock=saturday, calendar=calendar
    )
    try:
        assert len(src.chain("AAPL", date(2024, 3, 15))) == 6  # Friday, the last session
        with pytest.raises(DataUnavailableError, match="not the one of 2024-03-14"):
            src.chain("AAPL", date(2024, 3, 14))
    finally:
        src.close()


def test_a_contract_of_another_underlying_is_a_data_error() -> None:
    snaps = {"MSFT240315C00400000": {"latestQuote": {"bp": 1.0, "ap": 1.1}}}
    with pytest.raises(DataError, match="lists MSFT240315C00400000, another underlying"):
        chain_from_alpaca(snaps, "AAPL", AS_OF, 171.0)


def test_a_key_that_is_not_an_occ_symbol_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not an OCC option symbol"):
        chain_from_alpaca({"AAPL": {"latestQuote": {"ap": 1.0}}}, "AAPL", AS_OF, 171.0)


def test_a_crossed_quote_is_dropped_with_a_note() -> None:
    snaps = {
        "AAPL240315C00170000": {"latestQuote": {"bp": 2.5, "ap": 2.0}},
        "AAPL240315P00170000": {"latestQuote": {"bp": 0.78, "ap": 0.82}},
    }
    chain = chain_from_alpaca(snaps, "AAPL", AS_OF, 171.0)
    assert [q.contract.symbol for q in chain] == ["AAPL240315P00170000"]
    assert chain.notes == ("1 crossed quotes (bid above ask) dropped",)


def test_keys_are_required_and_never_shown() -> None:
    with pytest.raises(ConfigError, match="needs an API key id and a secret key"):
        AlpacaOptionChainSource(KEY, None)
    with pytest.raises(ConfigError, match="unknown Alpaca options feed 'sip'"):
        AlpacaOptionChainSource(KEY, SECRET, feed="sip")
    assert SECRET not in repr(AlpacaOptionChainSource(KEY, SECRET))
