"""Read manager-mode answers: the pass-1 analysis and the pass-2 trade actions.

Like :mod:`invest.runtime.oracle.gate.parsing`, nothing here raises: a bad action
is dropped with its reason and never takes the valid ones with it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from invest.runtime.oracle import normalise as nz
from invest.runtime.oracle.extract import extract_json
from invest.runtime.oracle.schemas import Action, MarketAnalysis, TradeAction

_ANALYSIS_ALIASES = {
    "regime": ("regime", "market_regime", "regime_label", "market_state", "label", "market"),
    "sector_scores": ("sector_scores", "sectors", "sector_score", "sector_outlook", "sector_views"),
    "portfolio_health": ("portfolio_health", "health", "portfolio", "portfolio_assessment"),
    "opportunities": ("opportunities", "opportunity", "ideas"),
    "threats": ("threats", "threat", "risks", "risk"),
    "summary": ("summary", "overview", "comment", "notes"),
}
_WRAPPERS = ("analysis", "market_analysis", "pass_1", "result")
_ACTION_KEYS = (
    "action",
    "symbol",
    "amount",
    "thesis",
    "stop_loss_pct",
    "take_profit_pct",
    "time_stop_days",
    "headline_ids",
)
_WHOLE = ("all", "full", "entire", "everything", "whole", "100%", "position")


@dataclass(frozen=True, slots=True)
class AnalysisParse:
    """Pass-1 analysis read from one answer."""

    analysis: MarketAnalysis | None
    problems: tuple[str, ...] = ()
    fatal: str | None = None

    @property
    def needs_repair(self) -> bool:
        """True when no analysis could be read."""
        return self.analysis is None

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        dumped = None if self.analysis is None else self.analysis.model_dump(mode="json")
        return {"analysis": dumped, "problems": list(self.problems), "fatal": self.fatal}


def parse_analysis(text: str) -> AnalysisParse:
    """Read the market analysis; sector scores outside -2..+2 are dropped one by one."""
    doc = extract_json(text)
    if not isinstance(doc, dict):
        return AnalysisParse(None, fatal="no JSON object found")
    for key in _WRAPPERS:
        inner = {nz.norm_key(k): v for k, v in doc.items()}.get(key)
        if isinstance(inner, dict) and "regime" not in doc:
            doc = inner
            break
    plain = {nz.norm_key(k): v for k, v in doc.items()}
    fields = {
        name: next((plain[a] for a in al if a in plain), None)
        for name, al in _ANALYSIS_ALIASES.items()
    }
    problems: list[str] = []
    regime = nz.regime(fields["regime"])
    if regime is None:
        return AnalysisParse(None, fatal=f"unknown regime {nz.text(fields['regime'], 40)!r}")
    try:
        analysis = MarketAnalysis.model_validate(
            {
                "regime": regime,
                "sector_scores": _sector_scores(fields["sector_scores"], problems),
                "portfolio_health": nz.text(fields["portfolio_health"]),
                "opportunities": nz.string_list(fields["opportunities"]),
                "threats": nz.string_list(fields["threats"]),
                "summary": nz.text(fields["summary"]),
            }
        )
    except ValidationError as e:  # pragma: no cover - inputs are normalised above
        return AnalysisParse(
            None, tuple(problems), fatal=f"invalid analysis: {e.errors()[0]['msg']}"
        )
    return AnalysisParse(analysis, tuple(problems))


def _sector_scores(value: Any, problems: list[str]) -> dict[str, float]:
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        for row in value:
            if isinstance(row, dict):
                item = {nz.norm_key(k): v for k, v in row.items()}
                pairs.append((item.get("sector", item.get("name")), item.get("score")))
    scores: dict[str, float] = {}
    for name, raw in pairs[:50]:
        if isinstance(raw, dict):
            raw = {nz.norm_key(k): v for k, v in raw.items()}.get("score")
        score = nz.number(raw)
        label = nz.text(name, 60)
        if not label or score is None or not -2.0 <= score <= 2.0:
            problems.append(f"sector score {label!r}={nz.text(raw, 20)!r} dropped (needs -2..+2)")
            continue
        scores[label] = score
    return scores


@dataclass(frozen=True, slots=True)
class ActionsParse:
    """Pass-2 trade actions read from one answer."""

    actions: tuple[TradeAction, ...]
    problems: tuple[str, ...] = ()
    fatal: str | None = None

    @property
    def needs_repair(self) -> bool:
        """True when the answer held no list of actions at all."""
        return self.fatal is not None

    def audit(self) -> dict[str, Any]:
        """JSON-ready summary for the audit trail."""
        return {
            "actions": [a.model_dump(mode="json") for a in self.actions],
            "problems": list(self.problems),
            "fatal": self.fatal,
        }


def parse_actions(text: str, *, buyable: Collection[str], held: Collection[str]) -> ActionsParse:
    """Read trade actions, keeping each valid one.

    Args:
        text: the raw answer.
        buyable: symbols the model may buy (the universe in play).
        held: symbols in the portfolio (the only ones it may sell).
    """
    items = nz.find_items(extract_json(text))
    if items is None:
        return ActionsParse((), fatal="no JSON object with actions found")
    actions: list[TradeAction] = []
    problems: list[str] = []
    seen: set[str] = set()
    for raw in items[:100]:
        found = action_item(raw, buyable, held, problems)
        if isinstance(found, str):
            problems.append(found)
        elif found.symbol in seen:
            problems.append(f"{found.symbol}: second action for the symbol dropped")
        else:
            seen.add(found.symbol)
            actions.append(found)
    return ActionsParse(tuple(actions), tuple(problems))


def action_item(
    raw: Any, buyable: Collection[str], held: Collection[str], problems: list[str]
) -> TradeAction | str:
    """One validated action, or the reason it was dropped."""
    if not isinstance(raw, dict):
        return f"action is not an object: {nz.text(raw, 60)!r}"
    item = nz.normalise_keys(raw, _ACTION_KEYS)
    sym = nz.symbol(item.get("symbol"))
    if sym is None:
        return "action without a symbol"
    kind = nz.action(item.get("action"))
    if kind is None:
        return f"{sym}: unknown action {nz.text(item.get('action'), 40)!r}"
    allowed = buyable if kind is Action.BUY else held if kind is Action.SELL else {*buyable, *held}
    if sym not in allowed:
        what = "in the universe" if kind is Action.BUY else "held"
        return f"{sym}: {kind.value} of a symbol that is not {what}, dropped"
    values = {
        "amount": _amount(kind, item.get("amount")),
        "stop_loss_pct": _pct(item.get("stop_loss_pct"), absolute=True),
        "take_profit_pct": _pct(item.get("take_profit_pct")),
        "time_stop_days": _days(item.get("time_stop_days")),
    }
    unreadable = [f"{k} {v.value!r}" for k, v in values.items() if isinstance(v, _Unreadable)]
    if unreadable:
        return f"{sym}: unreadable {', '.join(unreadable)}"
    try:
        return TradeAction.model_validate(
            {
                "action": kind,
                "symbol": sym,
                "thesis": nz.text(item.get("thesis")),
                "headline_ids": nz.cited_ids(item.get("headline_ids"), None, sym, problems),
                **values,
            }
        )
    except ValidationError as e:
        err = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{sym}: invalid {kind.value} ({where}: {err.get('msg', '')})"


@dataclass(frozen=True, slots=True)
class _Unreadable:
    value: str


def _amount(kind: Action, value: Any) -> Any:
    if kind is Action.HOLD:
        return None if value is None else nz.amount(value)
    if kind is Action.SELL and (value is None or nz.text(value).lower() in _WHOLE):
        return None
    parsed = nz.amount(value)
    return parsed if parsed is not None else _Unreadable(nz.text(value, 30))


def _pct(value: Any, *, absolute: bool = False) -> Any:
    if value is None:
        return None
    if absolute and isinstance(value, str):  # "-8%" and 8% mean the same stop
        value = value.strip().lstrip("-")
    elif absolute and isinstance(value, int | float) and not isinstance(value, bool):
        value = abs(value)
    parsed = nz.percent_as_fraction(value)
    if parsed is None:
        return _Unreadable(nz.text(value, 30))
    return parsed


def _days(value: Any) -> Any:
    if value is None:
        return None
    parsed = nz.whole_number(value)
    return parsed if parsed is not None else _Unreadable(nz.text(value, 30))
