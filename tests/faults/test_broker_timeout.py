"""Issue 11, finding 8: the broker accepts an order but its HTTP answer times out.

A real ``invest run`` sends to a fake Alpaca on loopback that stores the order and
answers only after the client's read timeout, while its look-ups fail (an outage).
The order's answer is recorded ``unknown`` (on main the cycle's transaction rolled
back, leaving an order at Alpaca with no ledger row); the next run's outbox
resolution finds it by client id and adopts it: no second order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.ledger.integrity import check_integrity
from tests.runtime.brokers.stateful import StatefulAlpaca, serve_stateful
from tests.runtime.engine.outbox_support import ACCOUNT, OutboxHome


@pytest.fixture
def fake() -> Iterator[StatefulAlpaca]:
    with serve_stateful() as f:
        yield f


def test_a_timeout_after_accept_is_recorded_unknown_and_adopted_by_client_id(
    tmp_path: Path, fake: StatefulAlpaca
) -> None:
    home = OutboxHome.make(
        tmp_path / "home", fake.url, "alpaca", "read_timeout_s = 0.5\nconnect_timeout_s = 0.5"
    )
    fake.slow_posts, fake.slow_s = 1, 2.0  # accepted, answered after the read timeout
    fake.reads_fail_after_slow = 1  # and the look-up by client id that follows fails
    first = home.child("plain", "run", ACCOUNT)
    assert first.returncode == 2, first.stderr[-2000:]  # the outage is one error line
    assert "Traceback" not in first.stderr
    (accepted,) = fake.orders
    before = home.orders()
    assert before[accepted] == ("unknown", None)  # the answer was lost: recorded as such
    assert home.events("order_unknown") == [accepted]
    assert {s for c, s in before.items() if c != accepted} == {("pending", None)}
    assert check_integrity(home.ledger) == []

    again = home.child("plain", "run", ACCOUNT)
    assert again.returncode == 0, again.stderr[-2000:]
    after = home.orders()
    assert set(after) == set(fake.orders)
    assert Counter(fake.posts) == dict.fromkeys(after, 1)  # no second order, ever
    assert after[accepted] == ("submitted", fake.orders[accepted]["id"])
    assert accepted not in home.events("outbox_resend")
    assert check_integrity(home.ledger) == []
