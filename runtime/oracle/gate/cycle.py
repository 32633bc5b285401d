"""The gate in the cycle: the LLM reviews the buys the risk engine sized, sells pass untouched.

The gate runs after the risk engine, on its order intents: every buy is already
within the hard rules, and the LLM can only lower it (veto, or shrink to a
fraction). Sells, stops and de-risking orders never reach it, so they never
wait for it. When the LLM is down or over budget, the configured
``on_unavailable`` policy decides (``block`` by default: no new buys).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from invest.runtime.config.context import ContextConfig
from invest.runtime.config.oracle import OracleConfig
from invest.runtime.context import open_earnings
from invest.runtime.domain import AccountState, Clamp, OrderIntent, Proposal, Side, floor_qty
from invest.runtime.market import Market
from invest.runtime.options.earnings import EarningsCalendar
from invest.runtime.oracle.context import cycle_context
from invest.runtime.oracle.gate.review import GateOracle, GateResult
from invest.runtime.oracle.news.sources import NewsSource, sources_from_config
from invest.runtime.oracle.session import build_account_oracle
from invest.runtime.oracle.store import Store

logger = logging.getLogger(__name__)

INDICATORS = ("rsi_14", "dist_sma_200", "vol_20", "mom_126", "bb_pos_20")


class CycleGate:
    """Adapter between one account's cycle and its :class:`GateOracle`."""

    def __init__(
        self,
        oracle: GateOracle,
        sources: Sequence[NewsSource] = (),
        config: OracleConfig | None = None,
        *,
        context: ContextConfig | None = None,
        calendar: EarningsCalendar | None = None,
    ) -> None:
        self.oracle = oracle
        self.sources = list(sources)
        self.config = config
        #: The ``[context]`` section and the earnings calendar shown in the prompt.
        self.context = context
        self.calendar = calendar

    def close(self) -> None:
        """Close the LLM client's connections."""
        self.oracle.client.close()

    def review(
        self,
        intents: list[OrderIntent],
        market: Market,
        t: int,
        state: AccountState,
        proposal: Proposal | None,
        cycle_id: str,
    ) -> tuple[list[OrderIntent], list[Clamp], dict[str, Any] | None]:
        """Apply the gate to the buys of ``intents``; sells pass untouched.

        Returns:
            The intents to send, a clamp per vetoed or shrunk buy, and the
            explanation record's ``llm`` part (None when there was nothing to review).
        """
        buys = {i.symbol: i.notional for i in intents if i.side is Side.BUY and i.notional > 0}
        if not buys:
            return intents, [], None
        ctx = cycle_context(
            market,
            t,
            state,
            list(buys),
            indicators=INDICATORS,
            regime=proposal.regime.value if proposal else "",
            sources=self.sources,
            news=self.config.news if self.config else None,
            context=self.context,
            calendar=self.calendar,
        )
        result = self.oracle.review(buys, ctx, cycle_id=cycle_id)
        out: list[OrderIntent] = []
        clamps: list[Clamp] = []
        for i in intents:
            if i.side is not Side.BUY or i.symbol not in buys:
                out.append(i)
                continue
            allowed = min(result.allowed.get(i.symbol, Decimal(0)), buys[i.symbol])
            if allowed <= 0:
                clamps.append(Clamp("llm_veto", i.symbol, _reason(result, i.symbol, "vetoed")))
                continue
            if allowed < buys[i.symbol]:
                qty = floor_qty(i.quantity * allowed / buys[i.symbol], fractional=True)
                if i.quantity == i.quantity.to_integral_value():
                    qty = floor_qty(qty, fractional=False)
                if qty <= 0:
                    clamps.append(
                        Clamp("llm_veto", i.symbol, _reason(result, i.symbol, "shrunk to 0"))
                    )
                    continue
                clamps.append(
                    Clamp("llm_shrink", i.symbol, _reason(result, i.symbol, f"shrunk to {allowed}"))
                )
                i = dataclasses.replace(i, quantity=qty)
            out.append(i)
        record = {
            "status": result.status,
            "note": result.note,
            "news": result.news_note,
            "models": list(result.models),
            "verdicts": result.explanations(),
        }
        return out, clamps, record


def _reason(result: GateResult, symbol: str, default: str) -> str:
    for r in result.records:
        if r.symbol == symbol:
            cited = f"; cites {', '.join(r.headlines or r.headline_ids)}" if r.headline_ids else ""
            return f"{r.verdict} ({r.source}): {r.reason}{cited}"
    return default


def build_cycle_gate(
    config: OracleConfig,
    account: str,
    home: Path,
    *,
    now: Callable[[], datetime],
    replay_only: bool = False,
    store: Store | None = None,
    context: ContextConfig | None = None,
) -> CycleGate:
    """The gate of an account: HTTP client with cache and budget, audit under ``home``.

    Args:
        config: the account's ``oracle`` section (mode must be ``gate``).
        account: the account name (budgets and audits are per account).
        home: the data directory; answers are cached and audited in ``home/oracle``.
        now: the clock.
        replay_only: never call the LLM; a prompt not in the cache counts as unavailable
            (backtests replay cached verdicts and cost nothing).
        store: cache/audit storage (default: a JSON file store in ``home/oracle``).
        context: the ``[context]`` section: market context and earnings calendar in the
            prompt (replays see no live calendar, as they see no live news).
    """
    oracle = build_account_oracle(
        GateOracle, config, account, home, now=now, replay_only=replay_only, store=store
    )
    sources = [] if replay_only else sources_from_config(config.news)
    calendar = None if replay_only else open_earnings(context)
    return CycleGate(oracle, sources, config, context=context, calendar=calendar)
