"""The mandate step of the risk engine: hold an account's buckets by asset class.

Step 3 of the engine's order (after the drawdown brake and the caps). It works on the
target weights the strategy asked for, so it moves the orders:

- a symbol with no asset class, or of a class the mandate has no bucket for, gets
  target 0 (the config check names the universe's; a watchlist can bring new ones);
- a bucket above its target + band is scaled down to its target;
- the cash bucket is a floor on cash: the invested book is scaled down until cash is at
  least the cash target, or the profile's ``min_cash_pct`` if that is stricter (the
  caps hold the profile's already);
- a bucket below its target - band is left under-weight, with a note saying so.

The risk engine never invents buys the strategy did not want: filling a bucket means
picking names, which is a strategy's job (the LLM manager is shown the mandate and the
bucket weights for that), and a risk rule that bought would bypass every buy filter's
reason to hold back. So an under-weight bucket only gets its note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from invest.runtime.config.mandate import CASH, MandateConfig, bucket_weights
from invest.runtime.domain import Clamp

__all__ = ["hold_mandate"]

_EPS = 1e-9


def hold_mandate(
    targets: Mapping[str, float],
    mandate: MandateConfig,
    classes: Mapping[str, str],
    min_cash_pct: float = 0.0,
) -> tuple[dict[str, float], list[Clamp]]:
    """``targets`` (weights of equity) held to ``mandate``, and a ``mandate`` clamp per change.

    Args:
        targets: symbol -> target weight, after the brake and the caps.
        mandate: the buckets and their band.
        classes: symbol -> asset class (the config's ``[assets]``).
        min_cash_pct: the risk profile's cash reserve; the stricter of it and the cash
            bucket is the floor.
    """
    clamps: list[Clamp] = []
    out: dict[str, float] = {}
    for sym, w in targets.items():
        c = classes.get(sym)
        if c is None:
            clamps.append(
                Clamp("mandate", sym, f"{sym} has no asset class in [assets]: not held (target 0)")
            )
        elif c not in mandate.buckets:
            clamps.append(
                Clamp(
                    "mandate", sym, f"{sym} is {c}, a class the mandate has no bucket for: target 0"
                )
            )
        else:
            out[sym] = w
    band = mandate.band
    weights = bucket_weights(out, classes, mandate)
    for c in mandate.classes():
        w, goal = weights[c], mandate.buckets[c]
        if w > goal + band + _EPS:
            scale = goal / w
            out = {s: x * scale if classes[s] == c else x for s, x in out.items()}
            clamps.append(
                Clamp(
                    "mandate",
                    c,
                    f"{c} bucket {w:.1%} over its {goal:.0%} target + {band:.0%} band: "
                    f"scaled to {goal:.0%}",
                )
            )
    floor = max(mandate.cash, min_cash_pct)
    invested = math.fsum(out.values())
    if invested > 1 - floor + _EPS:
        scale = (1 - floor) / invested
        out = {s: x * scale for s, x in out.items()}
        clamps.append(
            Clamp(
                "mandate",
                CASH,
                f"cash {1 - invested:.1%} under its {floor:.0%} floor: "
                f"book scaled to {1 - floor:.0%} invested",
            )
        )
    final = bucket_weights(out, classes, mandate)
    for c in mandate.classes():
        w, goal = final[c], mandate.buckets[c]
        if w < goal - band - _EPS:
            clamps.append(
                Clamp(
                    "mandate",
                    c,
                    f"{c} bucket {w:.1%} under its {goal:.0%} target - {band:.0%} band: "
                    "stays under-weight (the risk engine buys only what the strategy asked for)",
                )
            )
    return out, clamps
