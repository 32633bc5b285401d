"""/risk: the bot over the real control service and a ledger with known figures, so a chat sees
each account's VaR/CVaR 99% 1-day, its largest names, HHI and drawdown, or why there is no VaR."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.notify.telegram import TelegramBot
from tests.runtime.notify.support import TOKEN, FakeControl, FakeTelegram, command_update, config
from tests.runtime.notify.test_telegram_bot import talk
from tests.runtime.notify.test_telegram_views import Recording
from tests.runtime.risk_ledger_support import build


@pytest.fixture
def bot(tmp_path: Path) -> tuple[TelegramBot, Recording]:
    service = Recording(build(tmp_path / "ledger.sqlite"))
    service.requests = []
    return TelegramBot(config(), service, TOKEN), service


def test_risk_shows_each_accounts_var_book_and_drawdown(
    bot: tuple[TelegramBot, Recording],
) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/risk"), command_update("/risk beta"))
    every, beta = fake.texts()
    lines = every.splitlines()
    assert lines[0] == "Risk, 1-day, as of 2024-04-23:"
    assert lines[1] == "alpha:"
    # alpha's worst day in 80 is -4%: with k = ceil(80 * 0.01) = 1 it is both VaR and CVaR 99%.
    assert lines[2].startswith("  realised VaR99 4.00% CVaR99 4.00% (normal ")
    assert lines[2].endswith(", 80 d")
    hhi = (0.3 / 0.35) ** 2 + (0.05 / 0.35) ** 2
    assert lines[3].startswith(f"  largest AAA 30.0%, top 3 35.0%, HHI {hhi:.3f}; DD ")
    assert lines[4:6] == ["beta:", "  realised VaR99 n/a (needs 60 sessions, has 12)"]
    assert max(len(ln) for ln in lines) <= 80  # a phone's width, give or take
    assert beta.splitlines()[1:3] == lines[4:6]
    assert [(r.op, r.args, r.role) for r in bot[1].requests] == [
        ("risk", {}, "viewer"),
        ("risk", {"account": "beta"}, "viewer"),
    ]


def test_risk_of_an_unknown_account_says_so(bot: tuple[TelegramBot, Recording]) -> None:
    fake = FakeTelegram()
    talk(bot[0], fake, command_update("/risk nope"))
    assert "no account 'nope' in the ledger" in fake.texts()[0]


def test_help_lists_risk() -> None:
    fake = FakeTelegram()
    talk(TelegramBot(config(), FakeControl(), TOKEN), fake, command_update("/help"))
    assert "/risk [ACCOUNT] - VaR/CVaR 99% 1-day" in fake.texts()[0]
