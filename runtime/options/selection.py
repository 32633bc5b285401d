"""Picking what to trade from a chain: the expiry by a DTE window, strikes by delta, spreads by rule.

Each builder returns a :class:`Selection`: the structure and the quotes it was
priced from, or no structure and the reason the rules refused (no expiry in the
window, no strike at the width, the credit below the minimum, the debit above the
maximum). The credit/debit rules price the legs at ``SelectionConfig.price_at``:
"natural" (sell at the bid, buy at the ask) by default, what a market order would
get, so a spread that only pays at mid is not opened on a wide market.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from invest.runtime.config.options import DEFAULT_SELECTION, SelectionConfig
from invest.runtime.errors import ConfigError
from invest.runtime.options.analytics import quote_delta
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import Right
from invest.runtime.options.modelled import is_monthly
from invest.runtime.options.structures import (
    Structure,
    StructureKind,
    bear_call,
    bear_put,
    bull_call,
    bull_put,
    butterfly,
    cash_secured_put,
    covered_call,
    iron_condor,
)

__all__ = [
    "Selection",
    "by_delta",
    "pick_expiry",
    "select",
]


@dataclass(frozen=True, slots=True)
class Selection:
    """What the rules picked, or why they refused.

    Attributes:
        kind: the structure asked for.
        structure: the structure, or None when refused.
        quotes: the quotes of its legs (or the legs found before the refusal).
        net_premium: per share per unit at the rule's prices; > 0 a credit, < 0 a debit.
        reason: why it was refused, or a line saying what was picked.
    """

    kind: StructureKind
    structure: Structure | None
    quotes: tuple[OptionQuote, ...]
    net_premium: float
    reason: str

    @property
    def ok(self) -> bool:
        return self.structure is not None


def pick_expiry(
    chain: OptionChain, min_dte: int, max_dte: int, prefer: str = "nearest"
) -> date | None:
    """The expiry with ``min_dte <= DTE <= max_dte``: the nearest, or with ``prefer="monthly"``
    the nearest monthly (the nearest of any kind when none in the window is monthly).

    Returns None when no expiry lies in the window.
    """
    if prefer not in ("nearest", "monthly"):
        raise ConfigError(f"prefer must be 'nearest' or 'monthly', got {prefer!r}")
    inside = [e for e in chain.expiries() if min_dte <= (e - chain.as_of).days <= max_dte]
    if not inside:
        return None
    if prefer == "monthly":
        monthly = [e for e in inside if is_monthly(e)]
        if monthly:
            return monthly[0]
    return inside[0]


def by_delta(
    chain: OptionChain, expiry: date, right: Right, target_delta: float, rate: float = 0.0
) -> OptionQuote | None:
    """The quote of ``expiry`` and ``right`` whose |delta| is nearest to ``|target_delta|``.

    The quote's own delta, else the BSM delta at its IV (given or implied from the
    mid). On a tie the lower strike wins. None when no quote has a delta.
    """
    target = abs(target_delta)
    best: tuple[float, OptionQuote] | None = None
    for q in chain.side(expiry, right):
        d = quote_delta(chain, q, rate)
        if d is None:
            continue
        gap = abs(abs(d) - target)
        if best is None or gap < best[0]:
            best = (gap, q)
    return None if best is None else best[1]


def _at_width(
    chain: OptionChain,
    anchor: OptionQuote,
    direction: int,
    cfg: SelectionConfig,
) -> OptionQuote | None:
    """The quote ``cfg.width`` away from ``anchor`` (up for +1, down for -1), same expiry and right."""
    rows = chain.side(anchor.contract.expiry, anchor.contract.right)
    k0 = anchor.contract.strike
    beyond = [q for q in rows if (q.contract.strike - k0) * direction > 0]
    beyond.sort(key=lambda q: abs(q.contract.strike - k0))
    if not beyond:
        return None
    if cfg.width.unit == "strikes":
        n = int(cfg.width.value)
        return beyond[n - 1] if len(beyond) >= n else None
    target = float(k0) + direction * cfg.width.value / 100 * chain.spot
    return min(beyond, key=lambda q: (abs(float(q.contract.strike) - target), q.contract.strike))


def _prices(
    structure: Structure, quotes: tuple[OptionQuote, ...], cfg: SelectionConfig
) -> dict[str, float]:
    by_symbol = {q.contract.symbol: q for q in quotes}
    out: dict[str, float] = {}
    for leg in structure.legs:
        q = by_symbol[leg.contract.symbol]
        if cfg.price_at == "mid":
            out[q.contract.symbol] = q.mid
        else:
            out[q.contract.symbol] = q.bid if leg.is_short else q.ask
    return out


def _width(quotes: tuple[OptionQuote, ...]) -> float:
    ks = sorted(float(q.contract.strike) for q in quotes)
    return ks[1] - ks[0]


def _finish(
    kind: StructureKind,
    build: Callable[[], Structure],
    quotes: tuple[OptionQuote, ...],
    cfg: SelectionConfig,
    width: float | None,
) -> Selection:
    """Build the structure, price it and apply the credit or debit rule."""
    try:
        structure = build()
    except ConfigError as e:
        return Selection(kind, None, quotes, 0.0, f"{kind}: {e}")
    premium = structure.net_premium(_prices(structure, quotes, cfg))
    legs = "/".join(f"{float(q.contract.strike):g}" for q in quotes)
    at = f"at {cfg.price_at}"
    if width is None:  # the wheel's single legs: only a credit is needed
        if premium <= 0:
            return Selection(kind, None, quotes, premium, f"{kind} {legs}: no bid to sell into")
        return Selection(
            kind, structure, quotes, premium, f"{kind} {legs}: credit {premium:.2f} {at}"
        )
    if structure.is_credit:
        floor = cfg.min_credit_fraction * width
        if premium < floor:
            return Selection(
                kind,
                None,
                quotes,
                premium,
                f"{kind} {legs}: credit {premium:.2f} {at} is below {cfg.min_credit_fraction:g} "
                f"x width {width:g} = {floor:.2f}",
            )
        return Selection(
            kind,
            structure,
            quotes,
            premium,
            f"{kind} {legs}: credit {premium:.2f} {at}, width {width:g}",
        )
    debit = -premium
    cap = cfg.max_debit_fraction * width
    if debit > cap:
        return Selection(
            kind,
            None,
            quotes,
            premium,
            f"{kind} {legs}: debit {debit:.2f} {at} is above {cfg.max_debit_fraction:g} "
            f"x width {width:g} = {cap:.2f}",
        )
    return Selection(
        kind, structure, quotes, premium, f"{kind} {legs}: debit {debit:.2f} {at}, width {width:g}"
    )


def _refuse(kind: StructureKind, why: str, quotes: tuple[OptionQuote, ...] = ()) -> Selection:
    return Selection(kind, None, quotes, 0.0, f"{kind}: {why}")


@dataclass(frozen=True, slots=True)
class _Pick:
    """One selection's inputs: the chain, the rules, the expiry and the rate for deltas."""

    kind: StructureKind
    chain: OptionChain
    cfg: SelectionConfig
    expiry: date
    rate: float

    def anchor(self, right: Right, delta: float) -> OptionQuote | None:
        return by_delta(self.chain, self.expiry, right, delta, self.rate)

    def no_strike(self, what: str) -> Selection:
        return _refuse(self.kind, f"no {what} on {self.chain.underlying} {self.expiry}")

    def no_width(self, q: OptionQuote, way: int) -> Selection:
        width = self.cfg.width
        return _refuse(
            self.kind,
            f"no strike {width.value:g} {width.unit} {'above' if way > 0 else 'below'} "
            f"{q.contract.strike} on {self.chain.underlying} {self.expiry}",
            (q,),
        )


def _wheel(p: _Pick) -> Selection:
    put = p.kind is StructureKind.CASH_SECURED_PUT
    right = Right.PUT if put else Right.CALL
    q = p.anchor(right, p.cfg.wheel_put_delta if put else p.cfg.wheel_call_delta)
    if q is None:
        return p.no_strike(f"{right} with a delta")
    build = cash_secured_put if put else covered_call
    return _finish(p.kind, lambda: build(q.contract), (q,), p.cfg, None)


_VERTICALS: dict[StructureKind, tuple[Right, int, bool, Callable[..., Structure]]] = {
    # kind: (right, direction of the second leg from the anchor, anchor is short, builder)
    StructureKind.BULL_PUT: (Right.PUT, -1, True, bull_put),
    StructureKind.BEAR_CALL: (Right.CALL, 1, True, bear_call),
    StructureKind.BULL_CALL: (Right.CALL, 1, False, bull_call),
    StructureKind.BEAR_PUT: (Right.PUT, -1, False, bear_put),
}


def _vertical(p: _Pick) -> Selection:
    """Credit verticals anchor the short leg at the credit delta, debit ones the long leg."""
    right, way, short_anchor, build = _VERTICALS[p.kind]
    delta = p.cfg.credit_short_delta if short_anchor else p.cfg.debit_long_delta
    first = p.anchor(right, delta)
    if first is None:
        return p.no_strike(f"{right} with a delta")
    second = _at_width(p.chain, first, way, p.cfg)
    if second is None:
        return p.no_width(first, way)
    quotes = (first, second)  # builders take (short, long) for credits, (long, short) for debits
    return _finish(
        p.kind, lambda: build(first.contract, second.contract), quotes, p.cfg, _width(quotes)
    )


def _condor(p: _Pick) -> Selection:
    sp = p.anchor(Right.PUT, p.cfg.condor_short_delta)
    sc = p.anchor(Right.CALL, p.cfg.condor_short_delta)
    if sp is None or sc is None:
        return p.no_strike("short strike with a delta")
    if sp.contract.strike >= sc.contract.strike:
        return _refuse(
            p.kind,
            f"short put {sp.contract.strike} is not below short call {sc.contract.strike}",
            (sp, sc),
        )
    lp = _at_width(p.chain, sp, -1, p.cfg)
    if lp is None:
        return p.no_width(sp, -1)
    lc = _at_width(p.chain, sc, 1, p.cfg)
    if lc is None:
        return p.no_width(sc, 1)
    quotes = (lp, sp, sc, lc)
    put_wing = float(sp.contract.strike - lp.contract.strike)
    call_wing = float(lc.contract.strike - sc.contract.strike)
    if put_wing != call_wing:
        return _refuse(
            p.kind, f"wings differ: put {put_wing:g}, call {call_wing:g} (no equal wings)", quotes
        )
    return _finish(
        p.kind,
        lambda: iron_condor(lp.contract, sp.contract, sc.contract, lc.contract),
        quotes,
        p.cfg,
        put_wing,
    )


def _butterfly(p: _Pick) -> Selection:
    """Calls: the body at the centre delta, the wings the width below and above it."""
    body = p.anchor(Right.CALL, p.cfg.butterfly_centre_delta)
    if body is None:
        return p.no_strike("call with a delta")
    low = _at_width(p.chain, body, -1, p.cfg)
    if low is None:
        return p.no_width(body, -1)
    high = _at_width(p.chain, body, 1, p.cfg)
    if high is None:
        return p.no_width(body, 1)
    quotes = (low, body, high)
    lower = float(body.contract.strike - low.contract.strike)
    upper = float(high.contract.strike - body.contract.strike)
    if lower != upper:
        return _refuse(
            p.kind, f"wings differ: {lower:g} below, {upper:g} above (no equal wings)", quotes
        )
    return _finish(
        p.kind,
        lambda: butterfly(low.contract, body.contract, high.contract, Right.CALL),
        quotes,
        p.cfg,
        lower,
    )


_BUILDERS: dict[StructureKind, Callable[[_Pick], Selection]] = {
    StructureKind.CASH_SECURED_PUT: _wheel,
    StructureKind.COVERED_CALL: _wheel,
    StructureKind.BULL_PUT: _vertical,
    StructureKind.BEAR_CALL: _vertical,
    StructureKind.BULL_CALL: _vertical,
    StructureKind.BEAR_PUT: _vertical,
    StructureKind.IRON_CONDOR: _condor,
    StructureKind.BUTTERFLY: _butterfly,
}


def select(
    kind: StructureKind | str,
    chain: OptionChain,
    cfg: SelectionConfig = DEFAULT_SELECTION,
    *,
    expiry: date | None = None,
    rate: float = 0.0,
) -> Selection:
    """Pick a structure of ``kind`` from ``chain`` by the rules of ``cfg``.

    The expiry is ``expiry`` or :func:`pick_expiry` over ``cfg``'s DTE window; the
    anchor strike is found by delta (the short leg of a credit spread and of the
    wheel, the long leg of a debit spread, the body of a butterfly) and the other
    legs ``cfg.width`` away from it.

    Raises:
        ConfigError: ``kind`` is not a structure kind.
    """
    try:
        kind = StructureKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in StructureKind)
        raise ConfigError(f"unknown structure kind {kind!r}; choose one of {names}") from None
    exp = expiry or pick_expiry(chain, cfg.min_dte, cfg.max_dte, cfg.prefer)
    if exp is None:
        return _refuse(
            kind,
            f"no expiry of {chain.underlying} with {cfg.min_dte}..{cfg.max_dte} days to go on "
            f"{chain.as_of}",
        )
    return _BUILDERS[kind](_Pick(kind, chain, cfg, exp, rate))
