"""`invest flatten`: confirmed on a terminal, by --yes, or refused in one line."""

from __future__ import annotations

import io
from typing import Any

import pytest

from invest.runtime.cli import main
from invest.runtime.engine import cli as engine_cli


class FakeEngine:
    """Answers flatten as the control service does: a token first, then the result."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(
        self, paths: object, op: str, args: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        assert op == "flatten"
        self.sent.append(dict(args))
        if "confirm" in args:
            return {"account": args["account"], "sold": 2}
        return {
            "confirm": "tok",
            "account": args["account"],
            "positions": [{"symbol": "SPY"}, {"symbol": "QQQ"}],
            "message": "flatten sells all 2 positions of trend-daily and halts it: "
            "send flatten again with confirm=tok within 60 s",
        }


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(engine_cli, "_send", fake)
    return fake


def test_flatten_without_a_terminal_refuses_in_one_line_naming_yes(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # invest flatten trend-daily </dev/null
    assert main(["flatten", "trend-daily"]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1
    assert "--yes" in err
    assert "confirm=" not in out + err
    assert engine.sent == []  # nothing was asked of the engine


def test_flatten_on_a_terminal_asks_for_the_account_name(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("trend-daily\n"))
    assert main(["flatten", "trend-daily"]) == 0
    out = capsys.readouterr().out
    assert "sells all 2 positions of trend-daily" in out
    assert "confirm=" not in out  # the channel's protocol is not the person's business
    assert engine.sent[-1] == {"account": "trend-daily", "confirm": "tok"}


def test_flatten_on_a_terminal_closed_before_an_answer_sends_nothing(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(""))  # Ctrl-D at the prompt
    assert main(["flatten", "trend-daily"]) == 1
    assert "not confirmed" in capsys.readouterr().out
    assert len(engine.sent) == 1


def test_flatten_with_yes_needs_no_terminal(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["flatten", "trend-daily", "--yes"]) == 0
    assert engine.sent[-1]["confirm"] == "tok"
