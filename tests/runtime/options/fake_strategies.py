"""Small OptionsStrategy fakes for the options cycle's tests (the real ones are tested apart).

``MiniWheel`` is a wheel in a few lines: a cash-secured put on each underlying with
no shares and no open put, a covered call on whole lots of free shares. It reads
nothing but its context, so a look-ahead test exercises the cycle, not it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from invest.runtime.config.options import SelectionConfig
from invest.runtime.options.plan import CloseProposal, OpenProposal, OptionsContext, OptionsPlan
from invest.runtime.options.selection import select
from invest.runtime.options.structures import StructureKind


@dataclass
class MiniWheel:
    """Sell a put when flat, a covered call on assigned shares; 1 contract each (or ``contracts``)."""

    selection: SelectionConfig = field(default_factory=SelectionConfig)
    contracts: int = 1
    #: Close (rule "strategy") every position at least this many days old; None: never.
    close_after_days: int | None = None
    #: Propose one contract more than the candidates allow (an LLM overstepping).
    inflate: bool = False
    name: str = "mini_wheel"

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        opens: list[OpenProposal] = []
        notes: list[str] = []
        closes: list[CloseProposal] = []
        if self.close_after_days is not None:
            closes = [
                CloseProposal(p.id, "strategy", "old enough")
                for p in ctx.book.open_positions()
                if (ctx.day - p.opened).days >= self.close_after_days
            ]
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
        chosen = (
            tuple(replace(o, contracts=o.contracts + 1) for o in opens) if self.inflate else opens
        )
        return OptionsPlan(
            opens=tuple(chosen), closes=tuple(closes), candidates=tuple(opens), notes=tuple(notes)
        )
