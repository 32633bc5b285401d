"""Keep the model from recognising the period it is asked about.

Prompts show relative day labels (``day -5``) instead of dates, prices rebased
to 100, and headlines with years and full dates masked. A model that can place
the period could "remember" what happened next, which would flatter a
backtest; :func:`cutoff_check` flags windows the model may have seen in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ISO_DATE = re.compile(r"\b(19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b")
_NUM_DATE = re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](19|20)?\d{2}\b")
_MONTH_DAY = re.compile(rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d.,$])\b(?:FY|Q[1-4]\s?)?'?(19|20)\d{2}\b(?![.,]\d)")


def rebase(closes: Sequence[float], base: float = 100.0) -> tuple[float, ...]:
    """Prices scaled so that the first finite close is ``base``, rounded to 2 decimals.

    Missing or non-positive closes stay NaN; an empty or all-missing series is empty.
    """
    first = next((c for c in closes if math.isfinite(c) and c > 0), None)
    if first is None:
        return ()
    return tuple(
        round(c / first * base, 2) if math.isfinite(c) and c > 0 else math.nan for c in closes
    )


def day_label(offset: int) -> str:
    """``0`` -> ``'day 0'``, ``-5`` -> ``'day -5'``."""
    return f"day {offset}"


def series_labels(length: int) -> tuple[str, ...]:
    """Labels of a daily series whose last entry is the cycle: ``day -(n-1)`` .. ``day 0``."""
    return tuple(day_label(i - length + 1) for i in range(length))


def days_before(when: datetime, cycle_time: datetime) -> int:
    """Whole calendar days from ``when`` to ``cycle_time`` (0 for the same day)."""
    return (cycle_time.date() - when.astimezone(cycle_time.tzinfo).date()).days


def mask_dates(text: str) -> str:
    """Replace years and calendar dates in free text with ``[date]`` / ``[year]``."""
    for pattern in (_ISO_DATE, _NUM_DATE, _MONTH_DAY, _DAY_MONTH):
        text = pattern.sub("[date]", text)
    return _YEAR.sub("[year]", text)


class CutoffOverlap(StrEnum):
    """How a backtest window relates to the model's knowledge cutoff."""

    UNKNOWN = "unknown"  # no cutoff configured
    INSIDE = "inside"  # the whole window is before the cutoff: the model may know it all
    PARTIAL = "partial"  # the window starts before the cutoff
    AFTER = "after"  # the whole window is after the cutoff: a fair test


@dataclass(frozen=True, slots=True)
class CutoffCheck:
    """Result of :func:`cutoff_check`, with the warning the report shows."""

    overlap: CutoffOverlap
    warning: str | None


def cutoff_check(start: date, end: date, knowledge_cutoff: date | None) -> CutoffCheck:
    """Say whether the model may have seen the window ``start..end`` in training.

    Args:
        start: first day of the backtest window.
        end: last day of the window.
        knowledge_cutoff: the model's configured cutoff, or None.

    Returns:
        The overlap, and a warning line for the report when it is not ``AFTER``.
    """
    if knowledge_cutoff is None:
        return CutoffCheck(
            CutoffOverlap.UNKNOWN,
            "the model's knowledge cutoff is not configured: its results may include hindsight",
        )
    if end <= knowledge_cutoff:
        return CutoffCheck(
            CutoffOverlap.INSIDE,
            f"the backtest ends ({end}) before the model's knowledge cutoff "
            f"({knowledge_cutoff}): the model may know what happened; treat LLM results "
            "as optimistic",
        )
    if start <= knowledge_cutoff:
        return CutoffCheck(
            CutoffOverlap.PARTIAL,
            f"the backtest starts ({start}) before the model's knowledge cutoff "
            f"({knowledge_cutoff}): only days after the cutoff are a fair test",
        )
    return CutoffCheck(CutoffOverlap.AFTER, None)
