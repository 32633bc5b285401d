"""Small OptionsStrategy fakes for the options cycle's tests (the real ones are tested apart).

``MiniWheel`` is a wheel in a few lines: a cash-secured put on each underlying with
no shares and no open put, a covered call on whole lots of free shares. It reads
nothing but its context, so a look-ahead test exercises the cycle, not it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from invest.runtime.config.options import SelectionConfig
from invest.runtime.options.plan import OpenProposal, OptionsContext, OptionsPlan
from invest.runtime.options.selection import select
from invest.runtime.options.structures import StructureKind


@dataclass
class MiniWheel:
    """Sell a put when flat, a covered call on assigned shares; 1 contract each (or ``contracts``)."""

    selection: SelectionConfig = field(default_factory=SelectionConfig)
    contracts: int = 1
    name: str = "mini_wheel"

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        opens: list[OpenProposal] = []
        notes: list[str] = []
        held = {p.structure.underlying for p in ctx.book.open_positions()}
        for u, chain in sorted(ctx.chains.items()):
            if u in held:
                continue
            lots = int(ctx.free_shares.get(u, 0) // 100)
            kind = StructureKind.COVERED_CALL if lots else StructureKind.CASH_SECURED_PUT
            sel = select(kind, chain, self.selection)
            if sel.structure is None:
                notes.append(f"{u}: {sel.reason}")
                continue
            n = lots if lots else self.contracts
            opens.append(
                OpenProposal(sel.structure, n, sel.net_premium, sel.quotes, f"{kind} {sel.reason}")
            )
        return OptionsPlan(opens=tuple(opens), candidates=tuple(opens), notes=tuple(notes))
