"""An Alpaca account applies the fills made since its last cycle before it plans the next one.

Found by the Alpaca crash test: the broker is built anew for every cycle and reported
only fills after its own creation, so an order filled between two cycles reached the
ledger only at the next reconciliation. The next cycle planned the same trade again:
the same buy twice (a doubled position with enough buying power), or the same sell twice
(a short on a margin account). The fake Alpaca refused those for lack of cash or shares;
a real account might not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.data.sample import SampleData
from invest.runtime.engine.account_cycle import run_account_cycle
from invest.runtime.ledger import Ledger
from invest.runtime.ledger.integrity import check_integrity
from invest.runtime.secrets import Secrets
from tests.runtime.brokers.exchange import FillingAlpaca, serve_filling
from tests.runtime.brokers.support import KEY, SECRET
from tests.runtime.engine.support import paths, settings

FIRST, SECOND = date(2021, 10, 1), date(2021, 10, 4)  # a Friday and the next session


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FillingAlpaca]:
    with serve_filling(Decimal(10_000)) as f:
        init = AlpacaBroker.__init__

        def on_fake(self: AlpacaBroker, *args: Any, **kwargs: Any) -> None:
            init(self, *args, url_override=f.url, **kwargs)

        monkeypatch.setattr(AlpacaBroker, "__init__", on_fake)
        yield f


def _at(fake: FillingAlpaca, stamp: str) -> None:
    with fake.lock:
        fake.advance(stamp)


def test_fills_since_the_last_cycle_are_applied_before_planning(
    tmp_path: Path, fake: FillingAlpaca
) -> None:
    cfg = settings(alpaca=True)
    keys = Secrets(alpaca_api_key=SecretStr(KEY), alpaca_secret_key=SecretStr(SECRET))
    ledger = Ledger(tmp_path / "ledger.sqlite")

    def cycle(day: date) -> Any:
        return run_account_cycle(
            "daily", cfg, paths(tmp_path), ledger, source=SampleData(), end=day, secrets=keys
        )

    _at(fake, "2021-10-01T20:30:00+00:00")  # 16:30 New York, after the close
    first = cycle(FIRST)
    bought = {(i.symbol, i.side.value) for i in first.sent}
    assert bought, "the first cycle sent nothing: the test needs orders to fill"
    _at(fake, "2021-10-04T20:00:00+00:00")  # the next close: every order fills
    assert set(fake.fills()) == {i.client_order_id for i in first.sent}
    _at(fake, "2021-10-04T20:30:00+00:00")
    second = cycle(SECOND)
    # The fills reached the ledger before the plan: nothing planned twice, nothing refused.
    assert {f.client_order_id for f in second.fills} == {i.client_order_id for i in first.sent}
    assert not bought & {(i.symbol, i.side.value) for i in second.sent}
    assert fake.refused == []
    held = ledger.load_state("daily").positions
    assert {s: p.quantity for s, p in held.items()} == {
        s: q for s, q in fake.positions.items() if q
    }
    ledger.close()
    assert check_integrity(tmp_path / "ledger.sqlite") == []
