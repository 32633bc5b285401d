"""The Alpaca config picks paper unless live is explicit; the rate limiter stays under 200/min."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import SecretStr, ValidationError

from invest.runtime.adapters.alpaca.broker import AlpacaBroker, RateLimiter
from invest.runtime.config.alpaca import LIVE_CONFIRMATION, AlpacaConfig
from invest.runtime.errors import ConfigError
from tests.runtime.brokers.support import KEY, SECRET, Sleeps, make_broker, serve


def test_the_default_config_is_paper() -> None:
    cfg = AlpacaConfig()
    assert (cfg.paper, cfg.live, cfg.rate_limit_per_min) == (True, False, 180)


@pytest.mark.parametrize(
    "fields",
    [
        {"paper": False},
        {"paper": False, "live": True},
        {"paper": False, "live": True, "live_confirm": "yes"},
        {"paper": False, "live_confirm": LIVE_CONFIRMATION},
        {"paper": True, "live": True, "live_confirm": LIVE_CONFIRMATION},
    ],
)
def test_live_trading_needs_live_and_the_confirmation_sentence(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="live"):
        AlpacaConfig(**fields)


def test_a_live_config_that_skipped_validation_is_still_refused_by_the_broker() -> None:
    cfg = AlpacaConfig.model_construct(paper=False, live=True, live_confirm="")
    with pytest.raises(ConfigError, match=LIVE_CONFIRMATION):
        AlpacaBroker(cfg, KEY, SECRET, account="a")


def test_a_confirmed_live_config_targets_the_live_endpoint() -> None:
    cfg = AlpacaConfig(paper=False, live=True, live_confirm=LIVE_CONFIRMATION)
    broker = AlpacaBroker(cfg, SecretStr(KEY), SecretStr(SECRET), account="a")
    assert broker._client._base_url == "https://api.alpaca.markets"
    paper = AlpacaBroker(AlpacaConfig(), KEY, SECRET, account="a")
    assert paper._client._base_url == "https://paper-api.alpaca.markets"


def test_missing_keys_are_a_config_error_naming_the_variables() -> None:
    with pytest.raises(ConfigError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        AlpacaBroker(AlpacaConfig(), None, SecretStr(""), account="a")


def test_unknown_keys_and_a_rate_over_alpacas_limit_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AlpacaConfig(papr=True)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AlpacaConfig(rate_limit_per_min=250)
    with pytest.raises(ValidationError, match="under 200"):
        AlpacaConfig(rate_limit_per_min=195, burst=10)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_serves_a_burst_then_one_token_per_interval() -> None:
    t = FakeTime()
    bucket = RateLimiter(180, burst=10, monotonic=t.monotonic, sleep=t.sleep)
    assert [bucket.acquire() for _ in range(10)] == [0.0] * 10
    assert bucket.acquire() == pytest.approx(1 / 3)
    assert bucket.acquire() == pytest.approx(1 / 3)
    t.now += 60  # idle: the bucket refills up to the burst only
    assert [bucket.acquire() for _ in range(10)] == [0.0] * 10
    assert bucket.acquire() > 0


def test_no_sixty_second_window_sees_200_requests() -> None:
    t = FakeTime()
    bucket = RateLimiter(180, burst=10, monotonic=t.monotonic, sleep=t.sleep)
    stamps = []
    for _ in range(1_000):
        bucket.acquire()
        stamps.append(t.now)
    worst = max(sum(1 for s in stamps if start <= s < start + 60) for start in stamps)
    assert worst <= 190 < 200


def test_the_bucket_is_thread_safe() -> None:
    bucket = RateLimiter(60_000, burst=5)  # 1000 a second
    started = time.monotonic()

    def work() -> None:
        for _ in range(25):
            bucket.acquire()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # 200 tokens, 5 at once, the rest at 1 ms each: at least 0.195 s whatever the threads did.
    assert time.monotonic() - started >= 0.19


def test_every_http_request_takes_a_token() -> None:
    sleeps = Sleeps()
    with serve() as alpaca:
        alpaca.on("GET", "/v2/positions", (200, "positions.json"))
        broker = make_broker(alpaca, sleeps, rate_limit_per_min=60, burst=2)
        for _ in range(4):
            broker.positions()
    # burst 2 at 1/s on a clock that moves only when the broker sleeps: the third and
    # fourth request each wait exactly one second.
    assert sleeps.waits == [pytest.approx(1.0), pytest.approx(1.0)]
