"""Events and the notifier fan-out: a notifier failure never reaches the engine."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invest.runtime.domain import HaltState
from invest.runtime.events import (
    AccountReport,
    DailyReport,
    Event,
    FanOut,
    Halted,
    MemoryNotifier,
    Notifier,
    OrderFilled,
)

AT = datetime(2022, 6, 3, 20, 30, tzinfo=UTC)


class Exploding:
    def notify(self, event: Event) -> None:
        raise RuntimeError("chat API down")


class Hanging:
    def __init__(self) -> None:
        self.release = threading.Event()

    def notify(self, event: Event) -> None:
        self.release.wait(5)


def _fill() -> OrderFilled:
    return OrderFilled(
        at=AT, account="daily", client_order_id="inv-1", symbol="KO", side="buy",
        quantity=Decimal("2.5"), price=Decimal("61.2"), fees=Decimal(0), day=date(2022, 6, 6),
    )  # fmt: skip


def test_a_notifier_that_raises_never_breaks_the_caller_and_the_others_still_get_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = MemoryNotifier()
    fan = FanOut([Exploding(), memory], threaded=False)
    fan.notify(_fill())
    assert memory.kinds() == ["order_filled"]
    assert "notifier Exploding failed on order_filled" in caplog.text


def test_a_hanging_notifier_does_not_block_the_engine() -> None:
    hang, memory = Hanging(), MemoryNotifier()
    fan = FanOut([hang, memory], maxsize=2)
    for _ in range(10):  # returns at once even though delivery is stuck; extras are dropped
        fan.notify(_fill())
    hang.release.set()
    fan.close()
    assert 1 <= len(memory.events) <= 3


def test_events_say_what_happened_in_one_line_and_serialise_to_json() -> None:
    halted = Halted(
        at=AT, account="daily", state=HaltState.HALTED, reason="daily loss 6.0% >= 5.0%"
    )
    assert halted.text() == "daily HALTED: daily loss 6.0% >= 5.0% (by engine)"
    assert halted.severity == "critical"
    data = json.loads(json.dumps(_fill().as_dict()))
    assert data["kind"] == "order_filled"
    assert data["quantity"] == "2.5"
    assert data["day"] == "2022-06-06"
    report = DailyReport(
        at=AT,
        day=date(2022, 6, 3),
        accounts=(AccountReport("daily", 10_100.0, 100.0, 0.01, 2, 3, "ACTIVE", "ATTACK"),),
    )
    assert "daily 10,100.00 (+1.00%, 2 trades, 3 positions) ACTIVE ATTACK" in report.text()
    assert json.loads(json.dumps(report.as_dict()))["accounts"][0]["account"] == "daily"


def test_the_notifier_protocol_is_one_method() -> None:
    assert isinstance(MemoryNotifier(), Notifier)
    assert not isinstance(object(), Notifier)


def test_every_public_name_of_the_package_is_the_one_of_its_module() -> None:
    import invest.runtime.engine as engine
    from invest.runtime import events
    from invest.runtime.config import engine as config

    for name in engine.__all__:
        home = config if name in config.__all__ else events
        assert getattr(engine, name) is getattr(home, name), name
    assert set(engine.__all__) == set(config.__all__) | set(events.__all__)
