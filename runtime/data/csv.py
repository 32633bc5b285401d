"""Provider ``csv:PATH``: daily bars from your own CSV files. Offline.

``PATH`` is one of:

* **a wide CSV file**: one date column and one column per symbol holding its
  closes (the header is the symbol). Closes only: ``open``/``high``/``low``/
  ``volume`` are None.
* **a folder** holding one ``SYMBOL.csv`` per symbol (the file name without
  ``.csv`` is the symbol, case kept). Each file needs a date column and a
  ``close`` column; ``open``, ``high``, ``low`` and ``volume`` are read when
  present; other columns (``Symbol``, ``Dividends``...) are ignored. A field is
  in the frame only when *every requested* symbol's file has it; otherwise it is
  None for the whole frame (a half-filled OHLC array would let a strategy read
  highs that do not exist).

Rules common to both forms:

* Headers are matched case-insensitively, surrounding spaces ignored.
* The date column is the one named ``date``, ``timestamp`` or ``datetime``.
  Accepted date formats: ISO ``YYYY-MM-DD`` (a trailing time such as
  ``2024-01-02 00:00:00`` or ``2024-01-02T05:00:00Z`` is ignored; the calendar
  date written is the session), ``YYYY/MM/DD``, ``YYYYMMDD`` and US
  ``M/D/YYYY``. Day-first dates (``31/12/2024``) are not accepted because
  ``1/2/2024`` would be ambiguous.
* Empty cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``-`` are missing bars
  (NaN). Anything else that is not a finite number is an error naming the
  file, the line, the date and the column.
* Rows may be in any order; they are sorted. A date that appears twice is an
  error: the file must be deduplicated, nothing is dropped silently.
* ``Adj Close`` (also ``adj_close``, ``adjclose``) is **ignored** unless the
  source is opened with ``adjusted=True``. Then closes come from it and open,
  high and low are multiplied by ``adj close / close`` of the same row so a bar
  stays self-consistent, and the frame says ``adjusted=True``. A file that has
  only ``Adj Close`` therefore needs ``adjusted=True``. In the wide form
  ``adjusted=True`` only labels the closes as adjusted (the file cannot say).

A source keeps the frame of its last load and returns it again while the same
symbols are asked for and none of their files changed size or modification time
(a long-lived caller, the engine or the TUI, reloads for free). The frame's arrays
are then shared, so they are read-only. Parsed files themselves are not kept: the
frame holds their values already, and a 500-file folder would hold them twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from invest.runtime.data.frame import OPTIONAL_FIELDS, BarFrame, DateArray, FloatArray
from invest.runtime.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

DATE_COLUMNS = ("date", "timestamp", "datetime")
ADJ_CLOSE_COLUMNS = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})
DATE_FORMATS_HELP = "YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or M/D/YYYY"
_MAX_LISTED = 5
FOLDER_FIELDS = frozenset({"close", *OPTIONAL_FIELDS, *ADJ_CLOSE_COLUMNS})

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[T ].*)?")


def parse_day(text: str) -> date | None:
    """Parse one date cell; None when it is not in an accepted format.

    >>> parse_day("2024-01-02"), parse_day("1/2/2024"), parse_day("2024-01-02 00:00:00")
    (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2), datetime.date(2024, 1, 2))
    """
    s = text.strip()
    try:
        for pattern in (_ISO, _YMD_SLASH, _COMPACT):
            if m := pattern.fullmatch(s):
                return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _US.fullmatch(s):
            return date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:  # 2024-02-30 and the like
        return None
    return None


@dataclass(frozen=True)
class _Table:
    """One parsed file: sorted unique dates and float columns by lower-case header."""

    dates: DateArray
    columns: dict[str, FloatArray]
    headers: dict[str, str]  # lower-case key -> header as written


def _read_text_table(path: Path) -> pd.DataFrame:
    """All cells as text, headers as written (pandas would rename duplicates and blanks)."""
    import pandas as pd  # lazy: only a csv source pays for pandas

    try:
        grid = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
    except FileNotFoundError:
        raise DataError(f"CSV file {path} not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header line and one line per date") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a readable CSV file: {e}") from e
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    grid = grid.fillna("")  # short lines: missing trailing cells are empty cells
    names = [str(c).strip() for c in grid.iloc[0]]
    for i, name in enumerate(names):
        if not name:
            raise DataError(
                f"{path}: column {i + 1} has no header; give every column a name "
                f"(the date column 'date', the others their symbol or field)"
            )
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column headers {dupes}; rename or remove them")
    raw = grid.iloc[1:].reset_index(drop=True)
    raw.columns = pd.Index(names)
    return raw


def _iso_days(cells: pd.Series) -> DateArray | None:
    """Every cell exactly ``YYYY-MM-DD``: numpy parses them in C; otherwise None.

    The common case (yfinance, Alpaca and our own exports write it) costs one
    vectorised check instead of a regex per cell. Anything else, or a day that does
    not exist, returns None and goes through :func:`parse_day` line by line, which
    names the line of a bad date.
    """
    text = cells.to_numpy(dtype=str)
    if text.dtype.itemsize != 4 * 10:  # not all ten characters: another format
        return None
    codes = text.view(np.uint32).reshape(-1, 10)
    digits = codes[:, [0, 1, 2, 3, 5, 6, 8, 9]]
    if not (
        (codes[:, 4] == ord("-")).all()
        and (codes[:, 7] == ord("-")).all()
        and ((digits >= ord("0")) & (digits <= ord("9"))).all()
    ):
        return None
    try:
        return np.array(text, dtype="datetime64[D]")
    except ValueError:  # 2024-02-30 and the like
        return None


def _parse_dates(path: Path, cells: pd.Series) -> DateArray:
    fast = _iso_days(cells)
    if fast is not None:
        return fast
    cache: dict[str, date | None] = {}
    days: list[date] = []
    for line, text in enumerate(cells.tolist(), start=2):
        if text not in cache:
            cache[text] = parse_day(text)
        day = cache[text]
        if day is None:
            raise DataError(
                f"{path}, line {line}: date {text!r} is not a date; use {DATE_FORMATS_HELP}"
            )
        days.append(day)
    return np.array(days, dtype="datetime64[D]")


def _parse_numbers(path: Path, header: str, cells: pd.Series, dates: DateArray) -> FloatArray:
    import pandas as pd

    stripped = cells.str.strip()
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    missing = stripped.str.lower().isin(MISSING_TOKENS).to_numpy()
    bad = ~np.isfinite(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}, line {i + 2} (date {dates[i]}), column {header!r}: "
            f"{cells.iloc[i]!r} is not a number; fix the cell or leave it empty for a missing bar"
        )
    values[missing] = np.nan
    return values


def _read_number_table(path: Path, fields: frozenset[str] | None) -> _Table | None:
    """The common case, read without a Python string per cell; None: use the text rules.

    Every wanted column must hold plain numbers or empty cells, the dates must be
    ISO, sorted and unique. pandas then parses the numbers in C straight into
    float64 (the same correctly rounded values as ``to_numeric``), so a wide
    500-symbol file costs its arrays, not millions of cell strings. Anything else
    (a missing-bar token, text, an infinity, ``-0``, a column of booleans, a bad or
    unsorted date, odd headers) returns None and :func:`_read_table` parses the
    file by the text rules, which also name the offending cell.
    """
    import pandas as pd

    opts = {"header": None, "skipinitialspace": True, "encoding": "utf-8-sig"}
    try:
        head = pd.read_csv(path, nrows=1, dtype=str, keep_default_na=False, **opts)  # type: ignore[call-overload]
        names = [str(c).strip() for c in head.iloc[0]]
        lowered = [n.lower() for n in names]
        if not all(names) or len(set(lowered)) != len(lowered):
            return None
        date_at = next((lowered.index(k) for k in DATE_COLUMNS if k in lowered), None)
        if date_at is None:
            return None
        wanted = [
            i for i, k in enumerate(lowered) if i != date_at and (fields is None or k in fields)
        ]
        body = pd.read_csv(  # type: ignore[call-overload]
            path,
            skiprows=1,
            dtype={i: np.float64 if i in wanted else str for i in range(len(names))},
            keep_default_na=False,
            na_values={i: [""] for i in wanted},
            **opts,
        )
    except (ValueError, OSError, TypeError):  # pandas' parse errors are ValueErrors
        return None
    if list(body.columns) != list(range(len(names))) or not len(body):  # a longer row
        return None
    dates = _iso_days(body[date_at])
    if dates is None or not (dates[1:] > dates[:-1]).all():
        return None
    columns: dict[str, FloatArray] = {}
    for i in wanted:
        values = body[i].to_numpy(dtype=np.float64, copy=True)
        if (
            np.isinf(values).any()
            or (np.signbit(values) & (values == 0)).any()  # "-0": to_numeric reads 0.0
            or ((values == 0) | (values == 1) | np.isnan(values)).all()  # maybe True/False
        ):
            return None
        columns[lowered[i]] = values
    del body
    headers = {k: n for i, (k, n) in enumerate(zip(lowered, names, strict=True)) if i != date_at}
    return _Table(dates=dates, columns=columns, headers=headers)


def _read_table(path: Path, fields: frozenset[str] | None = None) -> _Table:
    """Parse ``path``; only the columns in ``fields`` (all when None) must be numbers."""
    fast = _read_number_table(path, fields)
    if fast is not None:
        return fast
    raw = _read_text_table(path)
    headers = {str(c).lower(): str(c) for c in raw.columns}
    by_key = {str(c).lower(): str(c) for c in raw.columns}
    date_key = next((k for k in DATE_COLUMNS if k in by_key), None)
    if date_key is None:
        raise DataError(
            f"{path}: no date column; name the column holding the dates 'date' "
            f"(found columns: {', '.join(headers.values())})"
        )
    dates = _parse_dates(path, raw[by_key[date_key]])
    order = np.argsort(dates, kind="stable")
    sorted_dates = dates[order]
    dup_mask = sorted_dates[1:] == sorted_dates[:-1]
    if dup_mask.any():
        dup_days = np.unique(sorted_dates[1:][dup_mask])
        listed = ", ".join(str(d) for d in dup_days[:_MAX_LISTED])
        more = f" and {len(dup_days) - _MAX_LISTED} more" if len(dup_days) > _MAX_LISTED else ""
        raise DataError(
            f"{path}: duplicate dates {listed}{more}; keep one row per date "
            f"(nothing is dropped automatically)"
        )
    columns = {
        key: _parse_numbers(path, headers[key], raw[col], dates)[order]
        for key, col in by_key.items()
        if key != date_key and (fields is None or key in fields)
    }
    headers = {k: v for k, v in headers.items() if k != date_key}
    return _Table(dates=sorted_dates, columns=columns, headers=headers)


def _file_signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)


class CsvData:
    """Provider ``csv:PATH`` (see the module docstring for the accepted layouts).

    Args:
        path: a wide CSV file or a folder of ``SYMBOL.csv`` files.
        adjusted: the closes are split/dividend adjusted; for a folder, read
            ``Adj Close`` columns where present (see the module docstring).
    """

    def __init__(self, path: Path | str, *, adjusted: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.adjusted = adjusted
        self.name = f"csv:{self.path}"
        #: (symbols, their files' signatures, frame) of the last load.
        self._last: tuple[tuple[str, ...], tuple[tuple[int, int], ...], BarFrame] | None = None

    def __repr__(self) -> str:
        return f"CsvData({str(self.path)!r}, adjusted={self.adjusted})"

    # -- discovery ---------------------------------------------------------

    def _check_exists(self) -> None:
        if not self.path.exists():
            raise DataError(
                f"csv source {self.path} not found; give a CSV file (a 'date' column and one "
                f"close column per symbol) or a folder of SYMBOL.csv files"
            )

    def _files(self) -> dict[str, Path]:
        """Symbol -> file for the folder form."""
        files = {
            p.name[: -len(".csv")]: p
            for p in sorted(self.path.iterdir())
            if p.is_file() and p.name.lower().endswith(".csv") and len(p.name) > len(".csv")
        }
        if not files:
            raise DataError(f"csv source folder {self.path} has no SYMBOL.csv files")
        return files

    def _table(self, path: Path, fields: frozenset[str] | None = None) -> _Table:
        try:
            path.stat()
        except FileNotFoundError:
            raise DataError(f"CSV file {path} not found") from None
        return _read_table(path, fields)

    def symbols(self) -> tuple[str, ...]:
        """Symbols in the source: the wide file's column headers or the folder's file names.

        Raises:
            DataError: the path does not exist or cannot be parsed.
        """
        self._check_exists()
        if self.path.is_dir():
            return tuple(self._files())
        return tuple(self._table(self.path).headers.values())

    # -- loading -----------------------------------------------------------

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Bars of ``symbols`` between ``start`` and ``end`` (inclusive).

        Raises:
            DataError: the path is missing, a file cannot be parsed, or a symbol
                is not in the source (the message lists the available ones).
        """
        self._check_exists()
        return self._frame(tuple(symbols)).between(start, end)

    def _frame(self, symbols: tuple[str, ...]) -> BarFrame:
        """All sessions of ``symbols``: the last load's frame again when none of its files changed."""
        if self.path.is_dir():
            files = self._files()
            paths = [files[s] for s in symbols if s in files]
        else:
            paths = [self.path]
        try:
            sigs = tuple(_file_signature(p) for p in paths)
        except FileNotFoundError:
            sigs = ()  # the load below says which file
        last = self._last
        if last is not None and sigs and last[0] == symbols and last[1] == sigs:
            return last[2]
        frame = self._load_folder(symbols) if self.path.is_dir() else self._load_wide(symbols)
        for name in ("close", *OPTIONAL_FIELDS):
            arr = getattr(frame, name)
            if arr is not None:
                arr.flags.writeable = False  # shared by every load that returns it
        self._last = (symbols, sigs, frame) if sigs else None
        return frame

    def _unknown(self, missing: Sequence[str], available: Sequence[str]) -> DataError:
        return DataError(
            f"symbol(s) {', '.join(missing)} not in {self.name}; available: {', '.join(available)}"
        )

    def _load_wide(self, symbols: Sequence[str]) -> BarFrame:
        table = self._table(self.path)
        key_of = {header: key for key, header in table.headers.items()}
        missing = [s for s in symbols if s not in key_of]
        if missing:
            raise self._unknown(missing, list(key_of))
        close = np.empty((len(table.dates), len(symbols)), dtype=np.float64)
        for j, sym in enumerate(symbols):
            close[:, j] = table.columns[key_of[sym]]
        return BarFrame(
            dates=table.dates,
            symbols=tuple(symbols),
            close=close,
            adjusted=self.adjusted,
            source=self.name,
        )

    def _load_folder(self, symbols: Sequence[str]) -> BarFrame:
        files = self._files()
        missing = [s for s in symbols if s not in files]
        if missing:
            raise self._unknown(missing, list(files))
        # _fields guarantees each symbol a close column.
        fields = [self._fields(files[s]) for s in symbols]
        return BarFrame.aligned(symbols, fields, adjusted=self.adjusted, source=self.name)

    def _fields(self, path: Path) -> tuple[DateArray, dict[str, FloatArray]]:
        """Dates and the named fields (close, open...) of one symbol file; other columns ignored."""
        table = self._table(path, FOLDER_FIELDS)
        cols = table.columns
        adj_key = next((k for k in ADJ_CLOSE_COLUMNS if k in cols), None)
        if self.adjusted and adj_key is not None:
            adj = cols[adj_key]
            out = {"close": adj}
            if "close" in cols:
                factor = adj / cols["close"]
                out |= {n: cols[n] * factor for n in ("open", "high", "low") if n in cols}
            if "volume" in cols:
                out["volume"] = cols["volume"]
            return table.dates, out
        if "close" not in cols:
            hint = (
                f"it has {table.headers[adj_key]!r}: open the source with adjusted=True to use it"
                if adj_key is not None
                else f"found columns: {', '.join(table.headers.values())}"
            )
            raise DataError(f"{path}: no 'close' column; {hint}")
        return table.dates, {n: cols[n] for n in ("close", *OPTIONAL_FIELDS) if n in cols}
