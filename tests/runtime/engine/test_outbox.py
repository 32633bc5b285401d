"""Issue 11, finding 8: orders go out through an outbox, and a kill after the broker accepted
one loses nothing and doubles nothing.

A real ``invest run`` child is SIGKILLed right after the broker accepted its first
order (the fake Alpaca on loopback stored it; the paper broker queued it) and before
the ledger recorded the answer. On main the broker call ran inside the cycle's
transaction, so the kill rolled the order rows back: an order at the broker with no
ledger row. Now the intents are committed first; the restart asks the broker by
client id, adopts what it has and sends the rest once, under the same ids.
"""

from __future__ import annotations

import signal
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


def test_a_kill_after_alpaca_accepts_leaves_the_intents_committed_and_the_restart_sends_each_once(
    tmp_path: Path, fake: StatefulAlpaca
) -> None:
    home = OutboxHome.make(tmp_path / "home", fake.url, "alpaca")
    killed = home.child("kill-after-send", "run", ACCOUNT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (first,) = fake.orders  # Alpaca accepted one order, then the process died
    before = home.orders()
    # The outbox: every intent of the cycle was committed before the broker was called,
    # and none has an answer yet (the kill came before the second transaction).
    assert first in before
    assert len(before) > 1
    assert set(before.values()) == {("pending", None)}

    again = home.child("plain", "run", ACCOUNT)
    assert again.returncode == 0, again.stderr[-2000:]
    after = home.orders()
    assert set(after) == set(before) == set(fake.orders)  # one order each, at both ends
    assert Counter(fake.posts) == dict.fromkeys(after, 1)  # never a second POST
    for cid, (status, broker_id) in after.items():
        assert (status, broker_id) == ("submitted", fake.orders[cid]["id"]), cid
    assert sorted(home.events("outbox_resend")) == sorted(set(after) - {first})
    assert check_integrity(home.ledger) == []  # positions = the sum of fills (none yet)


def test_a_kill_between_the_outbox_commit_and_the_paper_answer_neither_loses_nor_doubles(
    tmp_path: Path,
) -> None:
    home = OutboxHome.make(tmp_path / "home", "http://127.0.0.1:9", "paper")
    killed = home.child("kill-after-send", "run", ACCOUNT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    before = home.orders()
    assert len(before) > 1
    assert set(before.values()) == {("pending", None)}
    again = home.child("plain", "run", ACCOUNT)
    assert again.returncode == 0, again.stderr[-2000:]
    after = home.orders()
    assert set(after) == set(before)  # the paper book is the ledger's: found, not resent
    assert after == {cid: ("submitted", cid) for cid in after}  # paper: its id is the client id
    assert home.events("outbox_resend") == []
    assert check_integrity(home.ledger) == []
