"""Chat text: replies rendered plainly, long text split at line ends, reports with a chart
(or, without matplotlib, a note)."""

from __future__ import annotations

import struct
import sys

import pytest

from invest.runtime.control.api import Reply
from invest.runtime.events import CycleSummary
from invest.runtime.notify import format as fmt
from invest.runtime.notify.chart import sparkline
from invest.runtime.notify.format import NO_MATPLOTLIB, event_message, format_reply, split_text
from tests.runtime.notify.events import AT, DAY, RECORD, curves, every_event


@pytest.mark.parametrize("limit", [1, 7, 50, 4096])
def test_split_text_keeps_every_piece_under_the_limit_and_loses_nothing(limit: int) -> None:
    text = "\n".join(["short", "x" * 120, "", "a line of medium size", "y" * 9])
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_split_text_cuts_at_line_ends_when_it_can() -> None:
    assert split_text("aaa\nbbb\nccc", 7) == ["aaa\nbbb", "ccc"]
    assert split_text("", 10) == [""]


def test_a_reply_with_text_is_shown_as_is_and_errors_are_marked() -> None:
    assert format_reply(Reply(ok=True, data={"text": "all good"})) == "all good"
    assert format_reply(Reply(ok=False, error="nope")) == "✗ nope"
    assert format_reply(Reply(ok=True)) == "✓ done"


def test_a_structured_reply_is_rendered_key_by_key() -> None:
    reply = Reply(
        ok=True,
        data={
            "account": "trend-daily",
            "equity": 10234.5,
            "positions": [{"symbol": "AAPL", "qty": "2"}],
            "halt": {"state": "ACTIVE"},
            "empty": [],
        },
    )
    assert format_reply(reply).split("\n") == [
        "account: trend-daily",
        "equity: 10,234.50",
        "positions:",
        "  - symbol AAPL, qty 2",
        "halt:",
        "  state: ACTIVE",
        "empty: none",
    ]


def test_a_reply_record_is_explained() -> None:
    text = format_reply(Reply(ok=True, data={"record": RECORD}), symbol="AAPL")
    assert text.startswith("2024-03-14 trend-daily")
    assert "order buy 2 AAPL" in text


def test_a_cycle_summary_without_a_usable_record_falls_back_to_its_line() -> None:
    summary = CycleSummary(
        at=AT, account="trend-daily", cycle_id="c", day=DAY, equity=10234.5, record={"orders": []}
    )
    assert event_message(summary).text == "trend-daily 2024-03-14: equity 10,234.50; no trade"


def test_reports_without_curves_are_plain_text() -> None:
    report = every_event()[8]
    out = event_message(report)
    assert out.image is None
    with_chart = event_message(report, curves)
    assert with_chart.image is not None
    assert "rl-weekly" in with_chart.text


@pytest.mark.parametrize("which", [8, 9], ids=["daily", "weekly"])
def test_a_report_chart_is_a_png_of_the_accounts_with_their_sparklines(which: int) -> None:
    out = event_message(every_event()[which], curves)
    assert out.image is not None
    assert out.image.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">I", out.image[16:20]) == (1080,)
    assert "trend-daily ▁" in out.text
    assert "rl-weekly ▁" in out.text


def test_without_matplotlib_the_report_goes_out_as_text_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = event_message(every_event()[8], curves)
    assert out.image is None
    assert out.text.endswith(NO_MATPLOTLIB)
    assert out.text.startswith("Daily report 2024-03-14")


def test_a_chart_that_fails_never_stops_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kw: object) -> bytes:
        raise ValueError("bad data")

    monkeypatch.setattr(fmt, "report_png", broken)
    out = event_message(every_event()[8], curves)
    assert out.image is None
    assert out.text.endswith("(no chart: ValueError)")


def test_sparkline_spans_low_to_high() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([]) == ""
    assert sparkline([3.0, 3.0]) == "▁▁"
