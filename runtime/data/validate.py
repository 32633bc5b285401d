"""Market-data validation: what is wrong or suspicious in a :class:`BarFrame`.

Two uses:

* :func:`validate_frame` - a full report for ``invest data validate`` and for a
  provider's first load: missing bars, non-positive prices, duplicate dates,
  sessions missing against the NYSE calendar, stale series and big jumps.
* :func:`usable_mask` / :func:`mask_reason` - the point-in-time answer the cycle
  needs: may the bar of symbol ``j`` at row ``t`` be used for a decision at ``t``?
  It only looks at rows ``<= t``, so a backtest gets exactly what a live cycle
  would have had.

Nothing here changes data. A jump is a *warning*: big real moves happen (AAPL
-51.8% on 2000-09-29), so they are reported and logged, never "fixed".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from invest.runtime.clock import TradingCalendar, nyse
from invest.runtime.data.frame import BarFrame

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: ``Issue.symbol`` of issues about the date axis, which concern every symbol.
ALL_SYMBOLS = "*"
#: What :func:`mask_reason` returns for a usable bar.
USABLE = "usable"
#: Two closes closer than this (relative) count as identical for staleness.
STALE_RTOL = 1e-9

Severity = Literal["error", "warning"]


class IssueKind(StrEnum):
    """What an :class:`Issue` is about."""

    NAN = "nan"  # no close after the symbol's first bar (error)
    NON_POSITIVE = "non_positive"  # a price <= 0 or a negative volume (error)
    EMPTY = "empty"  # a symbol with no bar at all (error)
    DUPLICATE_DATE = "duplicate_date"  # the same date on two rows (error, symbol "*")
    UNSORTED_DATES = "unsorted_dates"  # dates going backwards (error, symbol "*")
    FUTURE = "future"  # a row dated after today (error, symbol "*"; only when today is given)
    MISSING_SESSION = "missing_session"  # an exchange session absent from the frame (error, "*")
    NOT_SESSION = "not_session"  # a frame date the exchange did not trade (error, "*")
    CALENDAR_RANGE = "calendar_range"  # dates the calendar does not cover (warning, "*")
    STALE = "stale"  # N identical closes in a row (warning)
    JUMP = "jump"  # a close-to-close move past the threshold (warning, data kept)


#: Kinds reported per symbol, in the order of the summary table columns.
SYMBOL_KINDS = (
    IssueKind.NAN,
    IssueKind.NON_POSITIVE,
    IssueKind.EMPTY,
    IssueKind.STALE,
    IssueKind.JUMP,
)


class ValidationRules(BaseModel):
    """Thresholds of the validator (the ``[data.validation]`` config section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_abs_return: float = Field(
        default=0.25,
        gt=0,
        description=(
            "Jump threshold: a close-to-close move with |return| above this (0.25 = 25%) "
            "is reported as a warning. The data is kept as it is."
        ),
    )
    stale_days: int = Field(
        default=5,
        ge=2,
        description=(
            "This many identical closes in a row make a series stale: reported as a "
            "warning, and the bar is not usable for decisions from the N-th one on."
        ),
    )
    check_calendar: bool = Field(
        default=True,
        description=(
            "Compare the frame's dates with the NYSE sessions (missing sessions, "
            "dates that are not sessions)."
        ),
    )


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding of the validator.

    Attributes:
        symbol: the symbol, or ``"*"`` for issues about the date axis.
        day: the date concerned (None for a whole-symbol issue such as ``empty``).
        kind: what it is.
        severity: ``"error"`` (the data is wrong) or ``"warning"`` (suspicious, kept).
        detail: one human sentence.
    """

    symbol: str
    day: date | None
    kind: IssueKind
    severity: Severity
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "symbol": self.symbol,
            "day": self.day.isoformat() if self.day else None,
            "kind": str(self.kind),
            "severity": self.severity,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class SymbolSummary:
    """Bars of one symbol in the validated frame."""

    symbol: str
    bars: int  # rows with a finite close
    first: date | None  # first row with a finite close
    last: date | None  # last row with a finite close


@dataclass(frozen=True)
class ValidationReport:
    """Everything :func:`validate_frame` found, with summaries for the CLI."""

    source: str
    rows: int
    first: date | None
    last: date | None
    symbols: tuple[SymbolSummary, ...]
    issues: tuple[Issue, ...]
    rules: ValidationRules
    calendar: str | None  # e.g. "XNYS 1990-01-01..2028-12-31", None when not checked

    @property
    def errors(self) -> tuple[Issue, ...]:
        """Issues of severity ``error``."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Issues of severity ``warning``."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(i.severity == "error" for i in self.issues)

    @property
    def counts(self) -> dict[str, int]:
        """Number of issues per kind (kinds that occur only)."""
        return dict(Counter(str(i.kind) for i in self.issues))

    def issues_for(self, symbol: str) -> tuple[Issue, ...]:
        """Issues of ``symbol`` (``"*"`` for the date-axis issues)."""
        return tuple(i for i in self.issues if i.symbol == symbol)

    def errors_for(self, symbol: str) -> tuple[Issue, ...]:
        """Errors of ``symbol`` (date-axis errors are under ``"*"``)."""
        return tuple(i for i in self.issues_for(symbol) if i.severity == "error")

    def warnings_for(self, symbol: str) -> tuple[Issue, ...]:
        """Warnings of ``symbol``."""
        return tuple(i for i in self.issues_for(symbol) if i.severity == "warning")

    def counts_for(self, symbol: str) -> dict[str, int]:
        """Number of issues of ``symbol`` per kind (kinds that occur only)."""
        return dict(Counter(str(i.kind) for i in self.issues_for(symbol)))

    def report_dict(self) -> dict[str, Any]:
        """JSON-able form, for ``invest data validate --json``."""
        return {
            "source": self.source,
            "rows": self.rows,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "counts": self.counts,
            "calendar": self.calendar,
            "rules": self.rules.model_dump(),
            "symbols": [
                {
                    "symbol": s.symbol,
                    "bars": s.bars,
                    "first": s.first.isoformat() if s.first else None,
                    "last": s.last.isoformat() if s.last else None,
                    "counts": self.counts_for(s.symbol),
                }
                for s in self.symbols
            ],
            "issues": [i.to_dict() for i in self.issues],
        }

    def error_lines(self, examples: int = 2) -> list[str]:
        """One line per kind of error, with its count and the first ``examples`` of it.

        Empty when the report has no error. ``invest backtest`` prints these before
        its results, and ``--strict`` refuses to run on them.
        """
        by_kind: dict[str, list[Issue]] = {}
        for i in self.errors:
            by_kind.setdefault(str(i.kind), []).append(i)
        return [
            f"{kind}: {len(found)} ("
            + "; ".join(f"{i.symbol} {i.day or '-'}: {i.detail}" for i in found[:examples])
            + ("; ..." if len(found) > examples else "")
            + ")"
            for kind, found in by_kind.items()
        ]

    def format(self, examples: int = 3) -> str:
        """A readable text report: a summary line, a table per symbol, then examples.

        Args:
            examples: how many issues of each (symbol, kind) to show in full.
        """
        span = f"{self.first}..{self.last}" if self.first else "no rows"
        verdict = "OK" if self.ok else "ERRORS"
        lines = [
            f"Validation of {self.source or 'frame'}: {len(self.symbols)} symbols, "
            f"{self.rows} rows, {span} - {verdict} "
            f"({len(self.errors)} errors, {len(self.warnings)} warnings)",
            f"Rules: jump > {self.rules.max_abs_return:.0%}, stale after "
            f"{self.rules.stale_days} identical closes, calendar "
            f"{self.calendar or 'not checked'}",
        ]
        axis = self.issues_for(ALL_SYMBOLS)
        axis_counts = Counter(str(i.kind) for i in axis)
        lines.append(
            "Dates: "
            + (", ".join(f"{k} {n}" for k, n in sorted(axis_counts.items())) or "no issue")
        )
        lines.extend(_examples(axis, examples))
        lines.append("")
        header = ["symbol", "bars", "first", "last", *(str(k) for k in SYMBOL_KINDS)]
        table = [header]
        for s in self.symbols:
            c = self.counts_for(s.symbol)
            table.append(
                [
                    s.symbol,
                    str(s.bars),
                    str(s.first or "-"),
                    str(s.last or "-"),
                    *(str(c.get(str(k), 0)) for k in SYMBOL_KINDS),
                ]
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.extend(
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )
        shown = [i for i in self.issues if i.symbol != ALL_SYMBOLS]
        if shown:
            lines.append("")
            lines.append(f"Examples (first {examples} of each kind per symbol):")
            lines.extend(_examples(shown, examples))
        return "\n".join(lines)


def _examples(issues: Iterable[Issue], n: int) -> list[str]:
    seen: Counter[tuple[str, str]] = Counter()
    out = []
    for i in issues:
        key = (i.symbol, str(i.kind))
        seen[key] += 1
        if seen[key] <= n:
            out.append(f"  {i.symbol:<8} {i.day or '-'!s:<10}  {i.kind} ({i.severity}): {i.detail}")
    return out


# -- helpers shared by the report and the mask ----------------------------------


def _same_close(close: npt.NDArray[np.float64]) -> BoolArray:
    """``out[t]``: close[t] equals close[t-1] (both finite); False on row 0."""
    out = np.zeros(close.shape, dtype=bool)
    if len(close) > 1:
        cur, prev = close[1:], close[:-1]
        with np.errstate(invalid="ignore"):
            out[1:] = np.abs(cur - prev) <= STALE_RTOL * np.abs(prev)
    return out


def _run_lengths(flags: BoolArray) -> IntArray:
    """``out[t]``: how many consecutive True end at row ``t`` (column-wise, causal)."""
    if flags.size == 0:
        return np.zeros(flags.shape, dtype=np.int64)
    c = np.cumsum(flags, axis=0, dtype=np.int64)
    reset = np.maximum.accumulate(np.where(flags, 0, c), axis=0)
    return c - reset


def _stale_now(close: npt.NDArray[np.float64], stale_days: int) -> BoolArray:
    """True where the last ``stale_days`` closes up to row ``t`` are all identical."""
    return _run_lengths(_same_close(close)) >= stale_days - 1


def usable_mask(frame: BarFrame, rules: ValidationRules | None = None) -> BoolArray:
    """Point-in-time usability of every bar, shape ``(rows, symbols)``.

    ``mask[t, j]`` is True when symbol ``j``'s close at row ``t`` is finite and
    positive and the series is not stale as of ``t`` (fewer than
    ``rules.stale_days`` identical closes ending at ``t``). Only rows ``<= t`` are
    read, so ``usable_mask(frame.rows(0, k)) == usable_mask(frame)[:k]``.
    Jumps do not make a bar unusable.
    """
    rules = rules or ValidationRules()
    close = frame.close
    with np.errstate(invalid="ignore"):
        ok: BoolArray = np.isfinite(close) & (close > 0)
    return ok & ~_stale_now(close, rules.stale_days)


def mask_reason(frame: BarFrame, rules: ValidationRules | None, t: int, j: int) -> str:
    """Why ``usable_mask(frame, rules)[t, j]`` is False, in words (``"usable"`` if it is True).

    Reads only rows ``<= t``, like the mask. For the audit record of a skipped symbol.
    """
    rules = rules or ValidationRules()
    n = len(frame)
    if not (0 <= t < n and 0 <= j < len(frame.symbols)):
        raise IndexError(f"bar ({t}, {j}) is outside a frame of {n} rows x {len(frame.symbols)}")
    symbol, day = frame.symbols[j], frame.day(t)
    col = frame.close[: t + 1, j]
    x = float(col[-1])
    if np.isinf(x):
        return f"{symbol} close {x:g} on {day} is not a finite price"
    if not np.isfinite(x):
        with np.errstate(invalid="ignore"):
            seen = np.flatnonzero(np.isfinite(col) & (col > 0))
        if len(seen) == 0:
            return f"{symbol} has no bar on or before {day} (not listed yet, or no data)"
        k = int(seen[-1])
        return (
            f"{symbol} has no close on {day} (missing bar; last close {float(col[k]):g} "
            f"on {frame.day(k)}, {t - k} rows earlier)"
        )
    if x <= 0:
        return f"{symbol} close {x:g} on {day} is not a positive price"
    run = int(_run_lengths(_same_close(col[-rules.stale_days :]))[-1]) + 1
    if run >= rules.stale_days:
        run = int(_run_lengths(_same_close(col))[-1]) + 1
        return (
            f"{symbol} is stale: close {x:g} unchanged for {run} sessions "
            f"since {frame.day(t - run + 1)} (limit {rules.stale_days})"
        )
    return USABLE


# -- the report -------------------------------------------------------------------


def find_duplicate_dates(dates: Sequence[Any] | npt.NDArray[np.datetime64]) -> list[date]:
    """Dates that occur more than once, sorted, each once."""
    arr = np.asarray(dates).astype("datetime64[D]")
    if len(arr) < 2:
        return []
    s = np.sort(arr)
    dup = np.unique(s[1:][s[1:] == s[:-1]])
    return [date.fromisoformat(str(d)) for d in dup]


def _date_axis_issues(
    frame: BarFrame,
    rules: ValidationRules,
    calendar: TradingCalendar | None,
    today: date | None = None,
) -> tuple[list[Issue], str | None]:
    issues = [
        Issue(
            ALL_SYMBOLS, d, IssueKind.DUPLICATE_DATE, "error", f"{d} appears on more than one row"
        )
        for d in find_duplicate_dates(frame.dates)
    ]
    dates = frame.dates.astype("datetime64[D]")
    back = np.flatnonzero(dates[1:] < dates[:-1])
    if len(back):
        i = int(back[0]) + 1
        issues.append(
            Issue(
                ALL_SYMBOLS,
                frame.day(i),
                IssueKind.UNSORTED_DATES,
                "error",
                f"dates go backwards at row {i} ({dates[i - 1]} then {dates[i]}); "
                f"{len(back)} such place(s)",
            )
        )
    if today is not None and len(dates):
        late = dates[dates > np.datetime64(today, "D")]
        if len(late):
            issues.append(
                Issue(
                    ALL_SYMBOLS,
                    date.fromisoformat(str(late[0])),
                    IssueKind.FUTURE,
                    "error",
                    f"{len(late)} row(s) dated after today ({today}), first {late[0]}: "
                    "`invest run` and the engine drop them",
                )
            )
    if not rules.check_calendar or len(dates) == 0:
        return issues, None
    if calendar is None:
        calendar = nyse()
    cal_name = f"{calendar.exchange} {calendar.start}..{calendar.end}"
    uniq = np.unique(dates)
    lo, hi = np.datetime64(calendar.start, "D"), np.datetime64(calendar.end, "D")
    inside = uniq[(uniq >= lo) & (uniq <= hi)]
    outside = len(uniq) - len(inside)
    if outside:
        issues.append(
            Issue(
                ALL_SYMBOLS,
                None,
                IssueKind.CALENDAR_RANGE,
                "warning",
                f"{outside} date(s) outside the calendar range {calendar.start}..{calendar.end} "
                "were not checked against exchange sessions",
            )
        )
    if len(inside) == 0:
        return issues, cal_name
    sessions = calendar.sessions(inside[0], inside[-1])
    for d in np.setdiff1d(sessions, inside, assume_unique=True).tolist():
        issues.append(
            Issue(
                ALL_SYMBOLS,
                d,
                IssueKind.MISSING_SESSION,
                "error",
                f"{d} ({d:%A}) is an {calendar.exchange} session but has no row",
            )
        )
    for d in np.setdiff1d(inside, sessions, assume_unique=True).tolist():
        issues.append(
            Issue(
                ALL_SYMBOLS,
                d,
                IssueKind.NOT_SESSION,
                "error",
                f"{d} ({d:%A}) has a row but is not an {calendar.exchange} session "
                "(weekend, holiday or closure; dates shifted by a timezone?)",
            )
        )
    return issues, cal_name


def _bar_issues(
    frame: BarFrame, rules: ValidationRules, days: list[date]
) -> tuple[list[Issue], list[SymbolSummary]]:
    close = frame.close
    rows = len(close)
    fin = np.isfinite(close)
    issues: list[Issue] = []
    summaries: list[SymbolSummary] = []
    has_any: BoolArray = np.any(fin, axis=0)
    if rows:
        first = np.argmax(fin, axis=0)
        last = rows - 1 - np.argmax(fin[::-1], axis=0)
    else:  # argmax of nothing fails; no symbol has a bar anyway
        first = last = np.zeros(len(frame.symbols), dtype=np.intp)
    for j, sym in enumerate(frame.symbols):
        if has_any[j]:
            summaries.append(
                SymbolSummary(sym, int(fin[:, j].sum()), days[first[j]], days[last[j]])
            )
        else:
            summaries.append(SymbolSummary(sym, 0, None, None))
            issues.append(Issue(sym, None, IssueKind.EMPTY, "error", f"{sym} has no bar at all"))

    # Missing closes after the first bar (leading NaN = not listed yet: fine).
    started = np.maximum.accumulate(fin, axis=0) if rows else fin
    for t, j in zip(*np.nonzero((started & ~fin).T)[::-1], strict=True):
        issues.append(
            Issue(
                frame.symbols[j],
                days[t],
                IssueKind.NAN,
                "error",
                f"no close on {days[t]} after the first bar on {days[first[j]]}",
            )
        )

    # Non-positive prices in every price field present, negative volume.
    fields: list[tuple[str, npt.NDArray[np.float64], bool]] = [("close", close, False)]
    for name in ("open", "high", "low", "volume"):
        arr = getattr(frame, name)
        if arr is not None:
            fields.append((name, arr, name == "volume"))
    for name, arr, is_volume in fields:
        with np.errstate(invalid="ignore"):
            bad = (arr < 0) if is_volume else (arr <= 0)
        for j, t in zip(*np.nonzero(bad.T), strict=True):
            what = "volume is negative" if is_volume else "is not a positive price"
            issues.append(
                Issue(
                    frame.symbols[j],
                    days[t],
                    IssueKind.NON_POSITIVE,
                    "error",
                    f"{name} {float(arr[t, j]):g} on {days[t]} {what}",
                )
            )

    issues.extend(_stale_issues(frame, rules, days))
    issues.extend(_jump_issues(frame, rules, days, fin))
    # Group by symbol (frame order), then by date; the sort is stable within a day.
    order = {s: k for k, s in enumerate(frame.symbols)}
    issues.sort(key=lambda i: (order[i.symbol], i.day or date.min))
    return issues, summaries


def _stale_issues(frame: BarFrame, rules: ValidationRules, days: list[date]) -> list[Issue]:
    close = frame.close
    runs = _run_lengths(_same_close(close))
    need = rules.stale_days - 1
    starts_t, starts_j = np.nonzero((runs == need).T)[::-1]
    nxt = np.zeros_like(runs)
    nxt[:-1] = runs[1:]
    ends_t, _ = np.nonzero(((runs >= need) & (nxt == 0)).T)[::-1]
    out = []
    for t, j, e in zip(starts_t, starts_j, ends_t, strict=True):
        length = int(runs[e, j]) + 1
        begin = int(e) - length + 1
        out.append(
            Issue(
                frame.symbols[j],
                days[t],
                IssueKind.STALE,
                "warning",
                f"close {float(close[t, j]):g} unchanged for {length} sessions, "
                f"{days[begin]}..{days[e]} (stale from the {rules.stale_days}th)",
            )
        )
    return out


def _jump_issues(
    frame: BarFrame, rules: ValidationRules, days: list[date], fin: BoolArray
) -> list[Issue]:
    close = frame.close
    rows = len(close)
    if rows < 2:
        return []
    # Row of the last finite close strictly before t (-1 if none), column-wise.
    idx = np.where(fin, np.arange(rows)[:, None], -1)
    last_seen = np.maximum.accumulate(idx, axis=0)
    prev = np.full(close.shape, -1, dtype=np.int64)
    prev[1:] = last_seen[:-1]
    cols = np.broadcast_to(np.arange(close.shape[1]), close.shape)
    prev_close = np.where(prev >= 0, close[np.maximum(prev, 0), cols], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = close / prev_close - 1.0
        big = fin & (prev_close > 0) & (close > 0) & (np.abs(ret) > rules.max_abs_return)
    out = []
    for j, t in zip(*np.nonzero(big.T), strict=True):
        sym, p = frame.symbols[j], int(prev[t, j])
        r = float(ret[t, j])
        logger.info("jump kept: %s %s %+.1f%% since %s", sym, days[t], 100 * r, days[p])
        out.append(
            Issue(
                sym,
                days[t],
                IssueKind.JUMP,
                "warning",
                f"close-to-close move {r:+.1%} ({float(close[p, j]):g} on {days[p]} -> "
                f"{float(close[t, j]):g}); kept as is, check it is real",
            )
        )
    return out


def validate_frame(
    frame: BarFrame,
    rules: ValidationRules | None = None,
    calendar: TradingCalendar | None = None,
    today: date | None = None,
) -> ValidationReport:
    """Check ``frame`` and report every issue; the frame is never modified.

    Args:
        frame: the bars to check (may be a raw load with duplicate or unsorted dates).
        rules: thresholds; defaults to :class:`ValidationRules`.
        calendar: the exchange calendar to compare dates with; None means the
            process-wide NYSE calendar (:func:`invest.runtime.clock.nyse`). Ignored
            when ``rules.check_calendar`` is False.
        today: when given, rows dated after it are an error (``future``).

    Raises:
        DataError: never for bad data (that is what the report is for); only if the
            calendar cannot be built.
    """
    rules = rules or ValidationRules()
    days: list[date] = frame.dates.astype("datetime64[D]").tolist()
    axis, cal_name = _date_axis_issues(frame, rules, calendar, today)
    bars, summaries = _bar_issues(frame, rules, days)
    report = ValidationReport(
        source=frame.source,
        rows=len(frame),
        first=min(days) if days else None,
        last=max(days) if days else None,
        symbols=tuple(summaries),
        issues=tuple(axis + bars),
        rules=rules,
        calendar=cal_name,
    )
    # The report is the result: every caller shows it (one line per kind, or in full),
    # so a warning here printed a raw log line above it. Debug logs keep the summary.
    logger.info(
        "validated %s: %d rows x %d symbols, %d errors, %d warnings %s",
        frame.source or "frame",
        report.rows,
        len(summaries),
        len(report.errors),
        len(report.warnings),
        report.counts,
    )
    return report
