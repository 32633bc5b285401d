"""/trades, /pnl, /daily, /weekly, /monthly: the bot over the real control service and a tiny
ledger, so chats see the closed trades and period P&L that `invest trades` and `invest pnl` print."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.control.api import Reply, Request
from invest.runtime.control.service import ControlService
from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.notify.support import (
    TOKEN,
    FakeControl,
    FakeTelegram,
    command_update,
    config,
)
from tests.runtime.notify.test_telegram_bot import talk
from tests.runtime.trades_support import build


class Recording(ControlService):
    """The real service, remembering the requests it answered."""

    requests: list[Request]

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        return super().handle(request)


@pytest.fixture
def bot(tmp_path: Path) -> tuple[TelegramBot, Recording]:
    service = Recording(build(tmp_path / "ledger.sqlite"))
    service.requests = []
    return TelegramBot(config(), service, TOKEN), service


def test_trades_shows_closed_trades_with_realised_pnl_days_and_reason(
    bot: tuple[TelegramBot, Recording],
) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/trades"), command_update("/trades beta 1"))
    every, beta = fake.texts()
    assert every.splitlines() == [
        "Closed trades, newest first (realised -5.00):",
        "2024-04-02 alpha AAA: 15 @ 105.00 -> 100.00, -76.00 (-4.83%), 29 d, stop loss -4.8%",
        "2024-03-11 alpha AAA (part): 5 @ 105.00 -> 120.00, +74.00 (+14.10%), 7 d, "
        "take profit +14.3%",
        "2024-03-07 beta BBB: 3 @ 50.00 -> 49.00, -3.00 (-2.00%), 2 d, rebalance: out of the top 5",
    ]
    assert beta.splitlines()[1:] == [every.splitlines()[3]]


def test_weekly_shows_each_account_and_the_portfolio_total(
    bot: tuple[TelegramBot, Recording],
) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/weekly 1"), command_update("/monthly x"))
    weekly, usage = fake.texts()
    assert weekly.splitlines() == [
        "P&L per week, newest first:",
        "2024-W14:",
        "  alpha -250.00 (-2.46%), equity 9,900.00",
        "  beta +13.00 (+0.26%), equity 5,010.00",
        "  portfolio total -237.00 (-1.56%), equity 14,910.00",
    ]
    assert usage == "Usage: /monthly [N]"
    assert [(r.op, r.args) for r in bot[1].requests] == [("pnl", {"period": "week", "limit": 1})]


def test_pnl_has_the_portfolio_total_across_accounts(bot: tuple[TelegramBot, Recording]) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/pnl"), command_update("/daily"))
    pnl, daily = fake.texts()
    portfolio = pnl[pnl.index("portfolio:") :].splitlines()
    assert "  equity: 14,910.00" in portfolio
    assert "  total_pnl: -90.00" in portfolio
    assert daily.splitlines()[:2] == ["P&L per day, newest first:", "2024-04-02:"]


def test_help_lists_the_period_views() -> None:
    fake = FakeTelegram()
    talk(TelegramBot(config(), FakeControl(), TOKEN), fake, command_update("/help"))
    (text,) = fake.texts()
    assert "/daily [N]" in text
    assert "/weekly [N]" in text
    assert "/monthly [N]" in text


def test_the_readme_lists_every_telegram_command() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme[readme.index("| Telegram command |") :]
    bot = TelegramBot(config(), FakeControl(), TOKEN)
    missing = [name for name in bot.commands() if f"`/{name}" not in section]
    assert missing == []
