"""Self-consistency for the options answers: majority over ``self_consistency_k`` samples.

The same caution as the gate's and the manager's votes: an action stands only
when more than half of the samples took it, and a tie or a split goes to doing
less (SKIP, no open, no close). An open's contracts are the median-low of its
votes, so the vote never sizes above what a majority asked for.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from invest.runtime.oracle.options.menu import Verb
from invest.runtime.oracle.options.parsing import ActionsParse, Decision, TypeParse


def vote_type(samples: Sequence[TypeParse]) -> TypeParse:
    """The type more than half of the usable samples chose; otherwise SKIP."""
    if len(samples) == 1:
        return samples[0]
    counts = Counter(s.chosen for s in samples)
    chosen, n = counts.most_common(1)[0]
    if n * 2 <= len(samples):
        return TypeParse(None, f"no majority among {len(samples)} samples: SKIP")
    first = next(s for s in samples if s.chosen is chosen)
    return TypeParse(chosen, f"{first.reason} ({n}/{len(samples)} samples)")


def vote_actions(samples: Sequence[ActionsParse]) -> ActionsParse:
    """The actions more than half of the samples took; decided when most samples decided."""
    if len(samples) == 1:
        return samples[0]
    total = len(samples)
    votes: dict[tuple[Verb, str], list[Decision]] = {}
    for sample in samples:
        for d in sample.decisions:
            if d.verb is not Verb.SKIP:
                votes.setdefault((d.verb, d.ref), []).append(d)
    kept: list[Decision] = []
    for found in votes.values():  # first-seen order
        if len(found) * 2 <= total:
            continue
        ranked = sorted(found, key=lambda d: d.contracts)
        pick = ranked[(len(ranked) - 1) // 2]
        kept.append(dataclasses.replace(pick, reason=f"{pick.reason} ({len(found)}/{total})"))
    decided = sum(1 for s in samples if s.decided) * 2 > total
    problems = tuple(p for s in samples for p in s.problems)
    return ActionsParse(tuple(kept), problems, None, decided)
