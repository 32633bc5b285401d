"""The research agent: a daily job that builds a dynamic watchlist for other accounts.

Two steps, and the first one alone is a complete answer:

1. **Rules screen** (pure numpy over a :class:`~invest.runtime.market.Market`, point in
   time): a symbol passes when its bar is usable, its average dollar volume clears the
   floor (skipped when the data has no volume), its momentum is above
   ``min_momentum`` and its annualised volatility lies in the band. Passing symbols
   rank by momentum, best first.
2. **LLM ranking**: one prompt showing the screened candidates (prices rebased to
   100, indicators, headlines), one strict answer: ``{"ranking": [{"symbol", "reason"}]}``.
   Items are validated one by one; a symbol that is not a candidate, a repeat or a
   malformed item is dropped with its reason. The model may leave candidates out.
   When it is down, over budget, or nothing it says is usable, the watchlist is the
   rules screen's order (``source="rules"``).

The result, a :class:`~invest.runtime.research.watchlist.Watchlist`, is saved as
``<dir>/<name>/<day>.json`` (:mod:`invest.runtime.research.watchlist` says how accounts
subscribe and read it back point in time).

Every prompt, response and parse result goes to the oracle store and the per-cycle JSON
file (cycle id ``research:<name>:<day>``), like the gate's and the manager's.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.config.research import ResearchConfig, ScreenRules
from invest.runtime.market import Market
from invest.runtime.oracle import normalise as nz
from invest.runtime.oracle.anonymise import days_before, mask_dates, rebase
from invest.runtime.oracle.client.audit import AuditTrail
from invest.runtime.oracle.client.protocol import ChatMessage, LLMClient
from invest.runtime.oracle.context import OracleContext, cycle_time
from invest.runtime.oracle.extract import extract_json
from invest.runtime.oracle.news.items import NewsDigest, NewsItem
from invest.runtime.oracle.normalise import find_items
from invest.runtime.oracle.prompts import select_headlines
from invest.runtime.oracle.schemas import Symbol, Text
from invest.runtime.oracle.session import OracleSession
from invest.runtime.oracle.store import Store
from invest.runtime.research.watchlist import Watchlist, save_watchlist

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
TRADING_DAYS = 252
_RANKING_KEYS = ("ranking", "ranked", "watchlist", "symbols", "picks", "candidates")

RESEARCH_SYSTEM = """You are the research analyst of an automated stock portfolio.
A rules screen passed the candidates below (momentum, volatility and liquidity
filters). Rank the ones worth watching over the next weeks, best first, using their
prices, indicators and headlines. You may leave candidates out; never name a symbol
that is not a candidate.
Answer with one JSON object and nothing else:
{"ranking": [{"symbol": "XYZ", "reason": "one sentence"}]}"""


@dataclass(frozen=True, slots=True)
class ScreenRow:
    """A symbol that passed the screen, with the numbers it passed on.

    Attributes:
        symbol: the ticker.
        momentum: return over ``momentum_days`` (0.12 = +12%).
        volatility: annualised volatility of daily log returns.
        dollar_volume: average daily dollar volume, or None without volume data.
    """

    symbol: str
    momentum: float
    volatility: float
    dollar_volume: float | None = None

    @property
    def reason(self) -> str:
        """The numbers in words, for the watchlist."""
        text = f"momentum {self.momentum:+.1%}, volatility {self.volatility:.0%}"
        if self.dollar_volume is not None:
            text += f", avg $ volume {self.dollar_volume / 1e6:,.1f}M"
        return text


# -- the rules screen ------------------------------------------------------------------------


def _dollar_volume(market: Market, t: int, cols: list[int], days: int) -> list[float | None]:
    vol = market.frame.volume
    if vol is None:
        return [None] * len(cols)
    lo = max(0, t - days + 1)
    traded = vol[lo : t + 1, cols] * market.close[lo : t + 1, cols]
    out: list[float | None] = []
    for k in range(len(cols)):
        seen = traded[:, k][np.isfinite(traded[:, k])]
        out.append(float(seen.mean()) if len(seen) else None)  # no volume seen: floor skipped
    return out


def screen(
    market: Market, t: int, symbols: Sequence[str], rules: ScreenRules | None = None
) -> list[ScreenRow]:
    """Symbols passing the screen at row ``t``, by momentum (best first; ties keep input order).

    Reads rows ``<= t`` only. Symbols missing from the market are skipped.
    """
    rules = rules or ScreenRules()
    names = [s for s in dict.fromkeys(symbols) if s in market.col]
    if not names:
        return []
    cols = [market.col[s] for s in names]
    mom, vol = market.momentum(rules.momentum_days), market.volatility(rules.vol_days)
    m, v = mom[t, cols], vol[t, cols] * math.sqrt(TRADING_DAYS)
    dv = _dollar_volume(market, t, cols, rules.liquidity_days)
    rows: list[ScreenRow] = []
    for k, sym in enumerate(names):
        mk, vk, dk = float(m[k]), float(v[k]), dv[k]
        if not (market.usable[t, cols[k]] and math.isfinite(mk) and math.isfinite(vk)):
            continue
        if rules.min_momentum is not None and mk <= rules.min_momentum:
            continue
        if not rules.min_volatility <= vk <= rules.max_volatility:
            continue
        if dk is not None and dk < rules.min_dollar_volume:
            continue
        rows.append(ScreenRow(sym, round(mk, 6), round(vk, 6), None if dk is None else round(dk)))
    rows.sort(key=lambda r: -r.momentum)  # stable: ties keep the input order
    return rows


# -- the LLM ranking ---------------------------------------------------------------------------


class RankedSymbol(BaseModel):
    """One item of the model's ranking."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    symbol: Symbol
    reason: Text = ""


@dataclass(frozen=True, slots=True)
class RankingParse:
    """The ranking read from one answer."""

    ranked: tuple[RankedSymbol, ...]
    problems: tuple[str, ...] = ()
    fatal: str | None = None

    @property
    def needs_repair(self) -> bool:
        """True when nothing usable was found."""
        return self.fatal is not None

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        return {
            "ranked": [r.model_dump(mode="json") for r in self.ranked],
            "problems": list(self.problems),
            "fatal": self.fatal,
        }


def _ranking_items(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict):
        plain = {nz.norm_key(k): v for k, v in doc.items()}
        for key in _RANKING_KEYS:
            if isinstance(plain.get(key), list):
                found: list[Any] = plain[key]
                return found
    return find_items(doc)


def parse_ranking(text: str, allowed: Collection[str]) -> RankingParse:
    """Read the model's ranking, keeping each valid item; never raises.

    Args:
        text: the raw answer.
        allowed: the screened candidates (any other symbol is dropped).
    """
    items = _ranking_items(extract_json(text))
    if items is None:
        return RankingParse((), fatal="no JSON object with a ranking found")
    ranked: list[RankedSymbol] = []
    problems: list[str] = []
    for raw in items[:100]:
        found = _ranking_item(raw, allowed, {r.symbol for r in ranked})
        if isinstance(found, str):
            problems.append(found)
        else:
            ranked.append(found)
    fatal = None if ranked else "no usable symbol in the ranking"
    return RankingParse(tuple(ranked), tuple(problems), fatal)


def _ranking_item(raw: Any, allowed: Collection[str], seen: set[str]) -> RankedSymbol | str:
    item = {"symbol": raw} if isinstance(raw, str) else raw
    if not isinstance(item, dict):
        return f"ranking item is not an object: {nz.text(raw, 60)!r}"
    plain = nz.normalise_keys(item, ("symbol", "reason"))
    sym = nz.symbol(plain.get("symbol"))
    if sym is None:
        return "ranking item without a symbol"
    if sym not in allowed:
        return f"{sym}: not a screened candidate, dropped"
    if sym in seen:
        return f"{sym}: ranked twice, second dropped"
    try:
        return RankedSymbol.model_validate({"symbol": sym, "reason": nz.text(plain.get("reason"))})
    except ValidationError as e:
        return f"{sym}: invalid ranking item ({e.errors()[0]['msg'] if e.errors() else e})"


def ranking_messages(
    rows: Sequence[ScreenRow],
    market: Market,
    t: int,
    rules: ScreenRules,
    *,
    news: NewsDigest | None = None,
    max_headlines: int = 30,
) -> tuple[ChatMessage, ...]:
    """The one prompt of the ranking; deterministic (sorted keys), anonymised (rebased prices)."""
    at = cycle_time(market.day(t))
    candidates: dict[str, Any] = {}
    for r in rows:
        j = market.col[r.symbol]
        closes = market.mark[max(0, t - rules.price_days + 1) : t + 1, j].tolist()
        candidates[r.symbol] = {
            "closes": [c if math.isfinite(c) else None for c in rebase(closes)],
            "momentum": round(r.momentum, 4),
            "volatility": round(r.volatility, 4),
            "rules_rank": len(candidates) + 1,
        }
    items: tuple[NewsItem, ...] = ()
    if news is not None and max_headlines:
        ctx = OracleContext(cycle_time=at, news=news)
        items = select_headlines(ctx, candidates, max_headlines)
    body = {
        "today": "day 0",
        "prices": "closes rebased to 100, oldest first, the last one is day 0",
        "momentum": f"return over {rules.momentum_days} sessions",
        "volatility": "annualised",
        "candidates": candidates,
        "headlines": [
            {
                "id": i.id,
                "symbols": sorted(i.symbols),
                "title": mask_dates(i.title),
                "day": -days_before(i.published, at),
            }
            for i in items
        ],
        "size": rules.size,
    }
    return (
        {"role": "system", "content": RESEARCH_SYSTEM},
        {"role": "user", "content": json.dumps(body, sort_keys=True, separators=(",", ":"))},
    )


class ResearchAgent:
    """Screen a symbol list, let the LLM rank the survivors, return the watchlist.

    Args:
        store: where the audit records go (and, through the client, cache and usage).
        client: the LLM client, or None to keep the rules order.
        config: the oracle settings of the ranking (repair, samples, temperature), or None.
        name: the watchlist's name; the audit account is ``research:<name>``.
        rules: the screen.
        now: the clock.
        audit_dir: folder for the per-cycle audit JSON file, or None.
    """

    def __init__(
        self,
        store: Store,
        client: LLMClient | None = None,
        config: OracleConfig | None = None,
        *,
        name: str = "research",
        rules: ScreenRules | None = None,
        now: Callable[[], datetime],
        audit_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.config = config
        self.name = name
        self.rules = rules or ScreenRules()
        self.audit_dir = audit_dir
        self._now = now

    def run(
        self, market: Market, t: int, symbols: Sequence[str], *, news: NewsDigest | None = None
    ) -> Watchlist:
        """The watchlist of row ``t`` (never raises on LLM trouble: the rules order stands)."""
        day = market.day(t)
        rows = screen(market, t, symbols, self.rules)[: self.rules.candidates]
        fallback = Watchlist(
            day,
            tuple(r.symbol for r in rows[: self.rules.size]),
            {r.symbol: r.reason for r in rows[: self.rules.size]},
            "rules",
            self.name,
        )
        if not rows:
            return replace(fallback, note="no symbol passed the screen")
        client, config = self.client, self.config
        if client is None or config is None:
            return replace(fallback, note="no LLM configured: rules order")
        audit = AuditTrail(
            self.store,
            cycle_id=f"research:{self.name}:{day.isoformat()}",
            account=f"research:{self.name}",
            now=self._now,
            directory=self.audit_dir,
        )
        try:
            audit.record("research.screen", rows=[r.symbol for r in rows])
            session = OracleSession(client, config, audit)
            watchlist = self._rank(session, rows, market, t, news, fallback)
        except Exception:  # a research job must never take the engine down
            logger.exception("research %s: ranking failed; rules order used", self.name)
            watchlist = replace(fallback, note="LLM ranking failed: rules order")
        try:
            audit.record("watchlist", **watchlist.as_dict())
            audit.flush()
        except Exception:  # the watchlist stands; the store's owner reports its own failure
            logger.exception("could not write the research audit records")
        return watchlist

    def _rank(
        self,
        session: OracleSession,
        rows: Sequence[ScreenRow],
        market: Market,
        t: int,
        news: NewsDigest | None,
        fallback: Watchlist,
    ) -> Watchlist:
        messages = ranking_messages(
            rows, market, t, self.rules, news=news, max_headlines=session.config.max_headlines
        )
        allowed = frozenset(r.symbol for r in rows)
        parsed = session.ask_parsed("research", messages, lambda s: parse_ranking(s, allowed))
        if parsed is None:
            return replace(fallback, note=f"{session.unavailable_note}: rules order")
        if parsed.fatal is not None:
            return replace(fallback, note=f"LLM answer unusable ({parsed.fatal}): rules order")
        by_rule = {r.symbol: r.reason for r in rows}
        chosen = parsed.ranked[: self.rules.size]
        return Watchlist(
            fallback.day,
            tuple(r.symbol for r in chosen),
            {r.symbol: r.reason or by_rule[r.symbol] for r in chosen},
            "llm",
            self.name,
            f"{len(chosen)} ranked by the LLM, {len(parsed.problems)} items dropped",
        )


def run_research(
    config: ResearchConfig,
    name: str,
    market: Market,
    home: Path,
    *,
    now: Callable[[], datetime],
    store: Store | None = None,
    client: LLMClient | None = None,
    news: NewsDigest | None = None,
    t: int | None = None,
) -> Watchlist:
    """The daily job: screen, rank, save under ``home/research``; return the watchlist.

    Args:
        config: the ``[research.NAME]`` section.
        name: the watchlist's name.
        market: bars of ``config.symbols`` up to now.
        home: the data directory (watchlists in ``home/research``, audits in ``home/oracle``).
        now: the clock.
        store: oracle store (default: a JSON file store in ``home/oracle``).
        client: an LLM client (default: built from ``config.oracle``; closed after use).
        news: headlines for the prompt, or None.
        t: the row (default: the last one).
    """
    from invest.runtime.oracle.client.stack import build_client
    from invest.runtime.oracle.store import JsonFileStore

    store = store or JsonFileStore(home / "oracle")
    own = client is None and config.oracle is not None
    if own and config.oracle is not None:
        client = build_client(config.oracle, store, account=f"research:{name}", now=now)
    agent = ResearchAgent(
        store,
        client,
        config.oracle,
        name=name,
        rules=config.rules,
        now=now,
        audit_dir=home / "oracle" / "cycles",
    )
    try:
        watchlist = agent.run(
            market, len(market) - 1 if t is None else t, config.symbols, news=news
        )
    finally:
        if own and client is not None:
            client.close()
    save_watchlist(home / "research", watchlist)
    return watchlist
