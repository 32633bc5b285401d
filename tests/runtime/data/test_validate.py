"""Market-data validation: the report and the point-in-time usability mask."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from invest.runtime.clock import TradingCalendar, nyse
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.data.validate import (
    ALL_SYMBOLS,
    USABLE,
    Issue,
    IssueKind,
    ValidationReport,
    ValidationRules,
    find_duplicate_dates,
    mask_reason,
    usable_mask,
    validate_frame,
)

RULES = ValidationRules()

# Rows of the synthetic frame that carry a planted defect.
NAN_ROW, ZERO_ROW, STALE_FROM, JUMP_ROW, LISTED_ROW = 10, 20, 30, 40, 8
MISSING_DAY = date(2022, 3, 15)


def _synthetic() -> BarFrame:
    """Three months of NYSE sessions, four symbols, one planted defect of each kind."""
    sessions = nyse().sessions(date(2022, 1, 3), date(2022, 3, 31))
    t = np.arange(len(sessions), dtype=float)
    wiggle = 1.0 + 0.01 * np.sin(t)  # never two identical closes in a row
    close = np.column_stack([100 * wiggle, 50 * wiggle, 20 * wiggle, 10 * wiggle])
    close[NAN_ROW, 0] = np.nan  # AAA: a missing bar after listing
    close[JUMP_ROW:, 0] *= 1.4  # AAA: +40% in one day, a level shift
    close[ZERO_ROW, 1] = 0.0  # BBB: a zero price
    close[STALE_FROM : STALE_FROM + 6, 2] = 20.0  # CCC: six identical closes
    close[:LISTED_ROW, 3] = np.nan  # DDD: listed later (leading NaN is fine)
    keep = sessions != np.datetime64(MISSING_DAY)  # a session the frame lacks
    return BarFrame(
        dates=sessions[keep],
        symbols=("AAA", "BBB", "CCC", "DDD"),
        close=close[keep],
        source="synthetic",
    )


@pytest.fixture(scope="module")
def synthetic() -> BarFrame:
    return _synthetic()


@pytest.fixture(scope="module")
def report(synthetic: BarFrame) -> ValidationReport:
    return validate_frame(synthetic, RULES)


@pytest.fixture(scope="module")
def sample() -> BarFrame:
    data = SampleData()
    return data.load(data.symbols())


@pytest.fixture(scope="module")
def sample_report(sample: BarFrame) -> ValidationReport:
    return validate_frame(sample, RULES, nyse())


def _only(report: ValidationReport, symbol: str, kind: IssueKind) -> Issue:
    found = [i for i in report.issues_for(symbol) if i.kind == kind]
    assert len(found) == 1, found
    return found[0]


# -- rules ----------------------------------------------------------------------------


def test_default_rules_flag_25_percent_moves_and_5_identical_closes() -> None:
    assert RULES.max_abs_return == 0.25
    assert RULES.stale_days == 5
    assert RULES.check_calendar is True


def test_rules_are_frozen_and_checked() -> None:
    with pytest.raises(ValidationError):
        RULES.stale_days = 3
    with pytest.raises(ValidationError):
        ValidationRules(stale_days=1)
    with pytest.raises(ValidationError):
        ValidationRules(max_abs_return=0)
    with pytest.raises(ValidationError):
        ValidationRules(max_jump=0.3)  # type: ignore[call-arg]


# -- each defect of the synthetic frame -----------------------------------------------


def test_a_missing_bar_after_listing_is_a_nan_error(
    synthetic: BarFrame, report: ValidationReport
) -> None:
    issue = _only(report, "AAA", IssueKind.NAN)
    assert issue.severity == "error"
    assert issue.day == synthetic.day(NAN_ROW)


def test_leading_nan_before_listing_is_not_an_error(report: ValidationReport) -> None:
    assert report.issues_for("DDD") == ()
    ddd = next(s for s in report.symbols if s.symbol == "DDD")
    assert ddd.first == _synthetic().day(LISTED_ROW)
    assert ddd.bars == len(_synthetic()) - LISTED_ROW


def test_a_zero_price_is_a_non_positive_error(
    synthetic: BarFrame, report: ValidationReport
) -> None:
    issue = _only(report, "BBB", IssueKind.NON_POSITIVE)
    assert issue.severity == "error"
    assert issue.day == synthetic.day(ZERO_ROW)
    assert report.errors_for("BBB") == (issue,)


def test_a_run_of_identical_closes_is_a_stale_warning(
    synthetic: BarFrame, report: ValidationReport
) -> None:
    issue = _only(report, "CCC", IssueKind.STALE)
    assert issue.severity == "warning"
    assert issue.day == synthetic.day(STALE_FROM + RULES.stale_days - 1)  # the 5th identical
    assert "unchanged for 6 sessions" in issue.detail


def test_a_40_percent_move_is_a_jump_warning(synthetic: BarFrame, report: ValidationReport) -> None:
    issue = _only(report, "AAA", IssueKind.JUMP)
    assert issue.severity == "warning"
    assert issue.day == synthetic.day(JUMP_ROW)
    assert "+39.7%" in issue.detail  # +40% times the wiggle
    assert "kept" in issue.detail


def test_a_session_absent_from_the_frame_is_a_missing_session_error(
    report: ValidationReport,
) -> None:
    issue = _only(report, ALL_SYMBOLS, IssueKind.MISSING_SESSION)
    assert issue.severity == "error"
    assert issue.day == MISSING_DAY


def test_the_synthetic_frame_has_exactly_the_planted_issues(report: ValidationReport) -> None:
    assert not report.ok
    assert report.counts == {
        "nan": 1,
        "non_positive": 1,
        "stale": 1,
        "jump": 1,
        "missing_session": 1,
    }
    assert len(report.errors) == 3
    assert len(report.warnings) == 2
    assert report.calendar is not None
    assert report.calendar.startswith("XNYS")


def test_a_date_that_is_not_a_session_is_an_error(synthetic: BarFrame) -> None:
    # Shift the whole frame by one day: weekends and holidays appear, sessions vanish.
    shifted = replace(synthetic, dates=synthetic.dates + np.timedelta64(1, "D"))
    report = validate_frame(shifted, RULES)
    not_sessions = [i for i in report.issues if i.kind == IssueKind.NOT_SESSION]
    assert not_sessions
    assert all(i.severity == "error" and i.symbol == ALL_SYMBOLS for i in not_sessions)
    assert date(2022, 1, 8) in {i.day for i in not_sessions}  # a Saturday


def test_duplicate_dates_are_found_and_reported(synthetic: BarFrame) -> None:
    dates = synthetic.dates.copy()
    dates[5] = dates[4]
    dates[7] = dates[6]
    dup = replace(synthetic, dates=dates)
    assert find_duplicate_dates(dates) == [synthetic.day(4), synthetic.day(6)]
    report = validate_frame(dup, RULES)
    kinds = [i.kind for i in report.issues_for(ALL_SYMBOLS)]
    assert kinds.count(IssueKind.DUPLICATE_DATE) == 2
    # The rows that were overwritten now look like missing sessions.
    assert kinds.count(IssueKind.MISSING_SESSION) == 3


def test_find_duplicate_dates_accepts_plain_dates_and_finds_none_in_unique_ones() -> None:
    assert find_duplicate_dates([date(2022, 1, 3), date(2022, 1, 4)]) == []
    assert find_duplicate_dates([date(2022, 1, 4), date(2022, 1, 3), date(2022, 1, 4)]) == [
        date(2022, 1, 4)
    ]
    assert find_duplicate_dates([]) == []


def test_dates_going_backwards_are_an_error(synthetic: BarFrame) -> None:
    dates = synthetic.dates.copy()
    dates[[3, 4]] = dates[[4, 3]]
    report = validate_frame(replace(synthetic, dates=dates), RULES)
    issue = _only(report, ALL_SYMBOLS, IssueKind.UNSORTED_DATES)
    assert issue.severity == "error"


def test_the_calendar_check_can_be_turned_off(synthetic: BarFrame) -> None:
    report = validate_frame(synthetic, ValidationRules(check_calendar=False))
    assert report.issues_for(ALL_SYMBOLS) == ()
    assert report.calendar is None


def test_an_explicit_calendar_is_used_and_dates_outside_it_are_a_warning(
    synthetic: BarFrame,
) -> None:
    small = TradingCalendar(date(2022, 2, 1), date(2022, 12, 31))
    report = validate_frame(synthetic, RULES, small)
    assert report.calendar == "XNYS 2022-02-01..2022-12-31"
    issue = _only(report, ALL_SYMBOLS, IssueKind.CALENDAR_RANGE)
    assert issue.severity == "warning"
    assert issue.detail.startswith("20 date(s) outside")  # January 2022 has 20 sessions
    assert _only(report, ALL_SYMBOLS, IssueKind.MISSING_SESSION).day == MISSING_DAY


def test_frames_older_than_the_calendar_are_checked_where_it_covers_them() -> None:
    dates = np.array(
        ["1989-12-28", "1989-12-29", "1990-01-02", "1990-01-03", "1990-01-05"],
        dtype="datetime64[D]",
    )
    close = np.array([[10.0], [10.5], [10.2], [10.4], [10.3]])
    report = validate_frame(BarFrame(dates, ("OLD",), close), RULES)
    assert _only(report, ALL_SYMBOLS, IssueKind.CALENDAR_RANGE).detail.startswith("2 date(s)")
    assert _only(report, ALL_SYMBOLS, IssueKind.MISSING_SESSION).day == date(1990, 1, 4)


def test_a_symbol_without_any_bar_is_an_error() -> None:
    dates = nyse().sessions(date(2022, 1, 3), date(2022, 1, 7))
    close = np.column_stack([np.linspace(10, 11, 5), np.full(5, np.nan)])
    report = validate_frame(BarFrame(dates, ("OK", "GONE"), close), RULES)
    assert [i.kind for i in report.errors_for("GONE")] == [IssueKind.EMPTY]
    assert report.errors_for("OK") == ()


def test_non_positive_open_high_low_and_negative_volume_are_errors(synthetic: BarFrame) -> None:
    ohlc = synthetic.close.copy()
    ohlc[NAN_ROW, 0] = 100.0
    vol = np.full(ohlc.shape, 1e6)
    vol[3, 2] = -5
    low = ohlc * 0.99
    low[4, 3] = -1.0
    frame = replace(synthetic, open=ohlc, high=ohlc * 1.01, low=low, volume=vol)
    details = [i.detail for i in validate_frame(frame, RULES).issues if i.kind == "non_positive"]
    assert any(d.startswith("volume -5") for d in details)
    assert any(d.startswith("low -1") for d in details)
    assert any(d.startswith("close 0") for d in details)
    assert any(d.startswith("open 0") for d in details)


def test_an_empty_frame_is_valid() -> None:
    empty = BarFrame(np.array([], dtype="datetime64[D]"), ("A",), np.zeros((0, 1)))
    report = validate_frame(empty, RULES)
    assert report.first is None
    assert report.counts == {"empty": 1}


# -- the report's output -----------------------------------------------------------------


def test_the_text_report_summarises_each_symbol_and_shows_examples(
    report: ValidationReport,
) -> None:
    text = report.format()
    assert text.startswith("Validation of synthetic: 4 symbols")
    assert "3 errors, 2 warnings" in text
    assert "missing_session 1" in text
    assert "2022-03-15 (Tuesday) is an XNYS session but has no row" in text
    row = next(line for line in text.splitlines() if line.startswith("AAA "))
    bars = str(len(_synthetic()) - 1)
    # symbol, bars, first, last, then nan, non_positive, empty, stale, jump
    assert row.split() == ["AAA", bars, "2022-01-03", "2022-03-31", "1", "0", "0", "0", "1"]
    assert "AAA      2022-03-02  jump (warning)" in text


def test_the_json_report_is_serialisable_and_complete(report: ValidationReport) -> None:
    data = json.loads(json.dumps(report.report_dict()))
    assert data["ok"] is False
    assert data["errors"] == 3
    assert data["rules"] == {"max_abs_return": 0.25, "stale_days": 5, "check_calendar": True}
    assert [s["symbol"] for s in data["symbols"]] == ["AAA", "BBB", "CCC", "DDD"]
    assert data["symbols"][0]["counts"] == {"nan": 1, "jump": 1}
    assert len(data["issues"]) == len(report.issues)
    assert data["issues"][0]["kind"] == "missing_session"


def test_jumps_are_logged(synthetic: BarFrame, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="invest.runtime.data.validate"):
        validate_frame(synthetic, RULES)
    assert any("jump kept: AAA 2022-03-02" in r.getMessage() for r in caplog.records)
    summary = [r for r in caplog.records if r.getMessage().startswith("validated synthetic")]
    # info even with errors: the caller shows the report; a warning leaked a raw line above it
    assert summary[0].levelno == logging.INFO


# -- the real sample -----------------------------------------------------------------------


def test_aapl_2000_09_29_is_reported_as_a_jump_warning_and_kept(
    sample: BarFrame, sample_report: ValidationReport
) -> None:
    jumps = {i.day: i for i in sample_report.issues_for("AAPL") if i.kind == IssueKind.JUMP}
    issue = jumps[date(2000, 9, 29)]
    assert issue.severity == "warning"
    assert "-51.8%" in issue.detail
    j, t = sample.index_of("AAPL"), sample.row_for(date(2000, 9, 29))
    assert sample.close[t, j] / sample.close[t - 1, j] - 1 == pytest.approx(-0.518, abs=1e-3)
    assert usable_mask(sample)[t, j]  # a big move does not make a bar unusable


def test_rrc_two_thirds_drop_is_reported_as_a_jump_warning(
    sample_report: ValidationReport,
) -> None:
    jumps = {i.day: i for i in sample_report.issues_for("RRC") if i.kind == IssueKind.JUMP}
    issue = jumps[date(1990, 4, 10)]
    assert issue.severity == "warning"
    assert "-66.7%" in issue.detail


def test_validation_does_not_touch_the_data() -> None:
    data = SampleData()
    frame = data.load(data.symbols())
    before = frame.close.copy()
    validate_frame(frame, RULES)
    usable_mask(frame, RULES)
    np.testing.assert_array_equal(frame.close, before)


def test_the_sample_has_no_errors_only_jump_and_stale_warnings(
    sample_report: ValidationReport,
) -> None:
    assert sample_report.ok, sample_report.format()
    assert set(sample_report.counts) == {"jump", "stale"}
    assert sample_report.issues_for(ALL_SYMBOLS) == ()  # same sessions as XNYS, no gaps
    assert all(s.bars == sample_report.rows for s in sample_report.symbols)


def test_the_sample_and_xnys_agree_on_the_september_2001_closure(sample: BarFrame) -> None:
    closed = [date(2001, 9, d) for d in (11, 12, 13, 14)]
    assert not any(nyse().is_session(d) for d in closed)
    assert not set(closed) & {sample.day(i) for i in range(len(sample))}
    assert sample.row_for(date(2001, 9, 14)) == sample.row_for(date(2001, 9, 10))


def test_rrc_early_1990s_flat_closes_are_stale_warnings(sample_report: ValidationReport) -> None:
    stale = [i for i in sample_report.issues_for("RRC") if i.kind == IssueKind.STALE]
    assert stale[0].day == date(1990, 1, 8)
    assert "unchanged for 69 sessions" in stale[0].detail
    assert all(i.severity == "warning" for i in stale)


# -- the usability mask ---------------------------------------------------------------------


def test_the_mask_rejects_nan_zero_and_stale_bars_but_keeps_jumps(synthetic: BarFrame) -> None:
    mask = usable_mask(synthetic, RULES)
    assert mask.shape == synthetic.close.shape
    assert not mask[NAN_ROW, 0]
    assert mask[JUMP_ROW, 0]
    assert not mask[ZERO_ROW, 1]
    assert not mask[:LISTED_ROW, 3].any()
    assert mask[LISTED_ROW:, 3].all()
    stale = mask[STALE_FROM : STALE_FROM + 7, 2]
    assert stale.tolist() == [True, True, True, True, False, False, True]


def test_the_mask_is_causal_a_prefix_gives_the_prefix_of_the_mask(
    synthetic: BarFrame, sample: BarFrame
) -> None:
    for frame in (synthetic, sample):
        full = usable_mask(frame, RULES)
        for k in (0, 1, 5, 33, len(frame) // 2, len(frame) - 1):
            np.testing.assert_array_equal(usable_mask(frame.rows(0, k), RULES), full[:k])


def test_the_mask_at_t_ignores_any_change_after_t(synthetic: BarFrame) -> None:
    rng = np.random.default_rng(7)
    full = usable_mask(synthetic, RULES)
    for k in (12, 33, 50):
        future = synthetic.close.copy()
        future[k + 1 :] = rng.choice([np.nan, 0.0, 20.0, 5.0], size=future[k + 1 :].shape)
        changed = usable_mask(replace(synthetic, close=future), RULES)
        np.testing.assert_array_equal(changed[: k + 1], full[: k + 1])


def test_the_stale_threshold_comes_from_the_rules(synthetic: BarFrame) -> None:
    strict = usable_mask(synthetic, ValidationRules(stale_days=2))
    assert not strict[STALE_FROM + 1, 2]
    lax = usable_mask(synthetic, ValidationRules(stale_days=10))
    assert lax[STALE_FROM : STALE_FROM + 6, 2].all()


def test_mask_reason_explains_each_unusable_bar(synthetic: BarFrame) -> None:
    assert "no close on" in mask_reason(synthetic, RULES, NAN_ROW, 0)
    assert "last close" in mask_reason(synthetic, RULES, NAN_ROW, 0)
    assert "not a positive price" in mask_reason(synthetic, RULES, ZERO_ROW, 1)
    assert mask_reason(synthetic, RULES, 0, 3).startswith("DDD has no bar on or before 2022-01-03")
    stale = mask_reason(synthetic, RULES, STALE_FROM + 5, 2)
    assert stale == (
        f"CCC is stale: close 20 unchanged for 6 sessions since {synthetic.day(STALE_FROM)} "
        "(limit 5)"
    )
    assert mask_reason(synthetic, RULES, JUMP_ROW, 0) == USABLE


def test_mask_reason_agrees_with_the_mask_everywhere(synthetic: BarFrame) -> None:
    mask = usable_mask(synthetic, RULES)
    rows, cols = mask.shape
    for t in range(rows):
        for j in range(cols):
            assert (mask_reason(synthetic, RULES, t, j) == USABLE) == mask[t, j], (t, j)


def test_mask_reason_refuses_a_bar_outside_the_frame(synthetic: BarFrame) -> None:
    with pytest.raises(IndexError):
        mask_reason(synthetic, RULES, len(synthetic), 0)
