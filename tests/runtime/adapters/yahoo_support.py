"""A real ``yfinance.Ticker`` whose HTTP layer replays recorded Yahoo answers.

yfinance's own request building and parsing run (``Ticker.options``,
``option_chain``, ``get_earnings_dates``); only ``Ticker._data``, the object that
does the HTTP requests, is replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[2] / "fixtures" / "options"


@dataclass
class Recorded:
    """An HTTP answer: the body, as Yahoo sent it."""

    text: str
    url: str
    status_code: int = 200

    def json(self) -> Any:
        import json

        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


@dataclass
class Replay:
    """Stands in for yfinance's ``YfData``: ``answer(url)`` gives the body's fixture name."""

    answer: Callable[[str], str | Exception]
    urls: list[str] = field(default_factory=list)

    def get(self, url: str, params: Any = None, timeout: float = 30) -> Recorded:
        self.urls.append(url)
        name = self.answer(url)
        if isinstance(name, Exception):
            raise name
        return Recorded((FIXTURES / name).read_text(), url)

    cache_get = get


def ticker_factory(replay: Replay) -> Callable[[str], Any]:
    def make(symbol: str) -> Any:
        import yfinance as yf

        ticker = yf.Ticker(symbol)
        ticker._data = replay
        return ticker

    return make
