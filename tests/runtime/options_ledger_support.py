"""A ledger with option positions, open and closed, made by a short options backtest.

The example config's two options accounts (the wheel and vertical spreads) replay
2016-01-04 .. :data:`END` on the sample data with modelled chains, mirrored into a
ledger through :class:`LedgerSink`, as ``invest demo`` mirrors the stock accounts.
About a second; the views' tests (trades, TUI, Telegram) read it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import invest.runtime
from invest.runtime.backtest.options_runner import modelled_account, options_market, replay_options
from invest.runtime.config import Settings, load_config
from invest.runtime.config.options import StrikeBand
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import Fill
from invest.runtime.ledger import Ledger, LedgerSink

EXAMPLE = Path(invest.runtime.__file__).parent / "examples" / "config.toml"
ACCOUNTS = ("wheel-weekly", "spreads-weekly")
START = date(2016, 1, 4)
#: The last session: a Tuesday with a put and a spread open (and 21 positions closed).
END = date(2016, 6, 14)
#: A later last session for the views: two puts open (one at its take profit), and in its
#: last 7 days a spread auto-closed and a put expired; closes by every rule before.
VIEWS_END = date(2016, 6, 16)


#: The scenarios above were picked on CBOE's base strike grid ($5 from $25 to $200) and
#: the first example spreads account (the nearest weekly, 25% of free cash a spread): the
#: fixture keeps them, so a change of the defaults or the example leaves them intact.
BASE_GRID = (
    StrikeBand(below=5.0, step=0.5),
    StrikeBand(below=25.0, step=1.0),
    StrikeBand(below=200.0, step=5.0),
    StrikeBand(below=None, step=10.0),
)


def fixture_settings() -> Settings:
    """The example config with the options accounts on :data:`BASE_GRID`."""
    settings = load_config(EXAMPLE)
    accounts = dict(settings.accounts)
    for name in ACCOUNTS:
        cfg = accounts[name]
        assert cfg.options is not None
        opts = cfg.options
        update: dict[str, object] = {
            "chain": opts.chain.model_copy(update={"strike_grid": BASE_GRID})
        }
        if cfg.strategy == "vertical_spreads":
            update["selection"] = opts.selection.model_copy(update={"min_dte": 7})
            update["spreads"] = opts.spreads.model_copy(update={"max_allocation": 0.25})
        accounts[name] = cfg.model_copy(update={"options": opts.model_copy(update=update)})
    return settings.model_copy(update={"accounts": accounts})


class _MirrorSink(LedgerSink):
    """The ledger's sink, with a settlement's stock fill recorded with its order row.

    The options session hands an assignment's shares to ``fill``; the ledger's
    ``assignment`` writes the order row the fills table's foreign key needs.
    """

    def fill(self, fill: Fill) -> None:
        self.assignment(fill, f"{fill.account}:{fill.day.isoformat()}")


def build_options_ledger(path: Path, end: date = END) -> None:
    """Write the two options accounts' replay into a new ledger at ``path``."""
    settings = fixture_settings()
    ledger = Ledger(path)
    try:
        for name in ACCOUNTS:
            market = options_market(SampleData(), settings, name, end)
            acct = modelled_account(name, settings, market)
            ledger.ensure_account(name, acct.config)
            with ledger.transaction():
                r = replay_options(acct, market, START, mirror=_MirrorSink(ledger))
                ledger.save_state(acct.state, r.days[-1].isoformat())
    finally:
        ledger.close()
