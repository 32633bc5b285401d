"""Chat text: replies rendered plainly, long text split at line ends, charts as real PNGs."""

from __future__ import annotations

import struct
import zlib

import pytest

from invest.runtime.control.api import Reply
from invest.runtime.events import CycleSummary
from invest.runtime.notify.chart import PALETTE, equity_png, sparkline
from invest.runtime.notify.format import event_message, format_reply, split_text
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


def _pixels(png: bytes) -> tuple[int, int, bytes]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", data[:8])
            assert data[8:10] == b"\x08\x02"  # 8-bit RGB
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_the_equity_chart_is_a_valid_png_with_one_colour_per_account() -> None:
    png = equity_png(curves(None), width=200, height=100)
    assert png is not None
    width, height, raw = _pixels(png)
    assert (width, height) == (200, 100)
    for color in PALETTE[:2]:
        assert bytes(color) in raw
    assert bytes(PALETTE[2]) not in raw


def test_a_series_too_short_to_draw_gives_no_chart() -> None:
    assert equity_png({"a": [1.0]}) is None
    assert equity_png({}) is None


def test_a_flat_series_still_draws() -> None:
    png = equity_png({"a": [5.0, 5.0, 5.0]}, width=50, height=30)
    assert png is not None
    assert bytes(PALETTE[0]) in _pixels(png)[2]


def test_sparkline_spans_low_to_high() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([]) == ""
    assert sparkline([3.0, 3.0]) == "▁▁"
