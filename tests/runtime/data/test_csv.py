"""The csv:PATH provider: wide files, folders of SYMBOL.csv, and clear errors on bad input."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from invest.runtime.data.base import MarketData
from invest.runtime.data.csv import CsvData, parse_day
from invest.runtime.errors import DataError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "csv"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def days(frame_dates: np.ndarray) -> list[str]:
    return [str(d) for d in frame_dates]


# -- wide files ---------------------------------------------------------------


def test_a_wide_csv_gives_one_close_column_per_symbol() -> None:
    src = CsvData(FIXTURES / "wide_closes.csv")
    frame = src.load(["MSFT", "AAPL"])
    assert frame.symbols == ("MSFT", "AAPL")
    assert days(frame.dates) == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
    ]
    assert frame.close[0].tolist() == [370.87, 185.64]
    assert frame.close[2].tolist() == [367.94, 181.91]  # the M/D/YYYY row


def test_a_wide_csv_has_closes_only_and_is_unadjusted_by_default() -> None:
    frame = CsvData(FIXTURES / "wide_closes.csv").load(["SPY"])
    assert (frame.open, frame.high, frame.low, frame.volume) == (None, None, None, None)
    assert frame.adjusted is False
    assert frame.source == f"csv:{FIXTURES / 'wide_closes.csv'}"


def test_the_adjusted_flag_labels_the_frame_as_adjusted() -> None:
    assert CsvData(FIXTURES / "wide_closes.csv", adjusted=True).load(["SPY"]).adjusted is True


def test_rows_in_any_order_are_sorted_by_date(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X\n2024-01-05,3\n2024-01-02,1\n01/03/2024,2\n")
    frame = CsvData(path).load(["X"])
    assert days(frame.dates) == ["2024-01-02", "2024-01-03", "2024-01-05"]
    assert frame.close[:, 0].tolist() == [1.0, 2.0, 3.0]


def test_empty_cells_and_na_words_are_missing_bars(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.csv",
        "Date,A,B,C,D,E\n2024-01-02,,NA,n/a,null,-\n2024-01-03,1,NaN,2,3,4\n2024-01-04,5,6\n",
    )
    frame = CsvData(path).load(["A", "B", "C", "D", "E"])
    assert np.isnan(frame.close[0]).all()
    assert np.isnan(frame.close[1, 1])
    assert frame.close[2, :2].tolist() == [5.0, 6.0]
    assert np.isnan(frame.close[2, 2:]).all()  # a short line: the missing cells are empty


def test_start_and_end_bound_the_sessions_inclusively() -> None:
    frame = CsvData(FIXTURES / "wide_closes.csv").load(
        ["AAPL"], start=date(2024, 1, 3), end=date(2024, 1, 5)
    )
    assert days(frame.dates) == ["2024-01-03", "2024-01-04", "2024-01-05"]


def test_headers_are_matched_without_regard_to_case_or_spaces(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", " TimeStamp , X \n2024-01-02,1\n")
    src = CsvData(path)
    assert src.symbols() == ("X",)
    assert src.load(["X"]).close.tolist() == [[1.0]]


def test_a_byte_order_mark_from_excel_does_not_hide_the_date_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffDate,X\n2024-01-02,1\n".encode())
    assert CsvData(path).load(["X"]).close.tolist() == [[1.0]]


def test_symbols_lists_the_wide_files_columns() -> None:
    assert CsvData(FIXTURES / "wide_closes.csv").symbols() == ("AAPL", "MSFT", "SPY")


def test_the_csv_source_is_a_market_data_provider() -> None:
    assert isinstance(CsvData(FIXTURES / "wide_closes.csv"), MarketData)


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X\n2024-01-02,1\n")
    src = CsvData(path)
    assert src.load(["X"]).close.tolist() == [[1.0]]
    write(path, "date,X\n2024-01-02,1\n2024-01-03,2\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert src.load(["X"]).close.tolist() == [[1.0], [2.0]]


# -- folders of SYMBOL.csv ----------------------------------------------------


def test_a_folder_gives_full_ohlcv_when_every_file_has_it() -> None:
    frame = CsvData(FIXTURES / "ohlcv").load(["MSFT"])
    assert frame.has_ohlc
    assert frame.volume is not None
    assert frame.close[:, 0].tolist() == [370.60, 367.94, 367.75]
    assert frame.high is not None
    assert frame.high[0, 0] == 373.26


def test_a_folder_outer_joins_dates_with_nan_where_a_symbol_has_no_bar() -> None:
    frame = CsvData(FIXTURES / "ohlcv").load(["AAPL", "MSFT"])
    assert days(frame.dates) == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert np.isnan(frame.close[0, 1])  # MSFT has no 2024-01-02
    assert np.isnan(frame.close[3, 0])  # AAPL has no 2024-01-05
    assert frame.open is not None
    assert np.isnan(frame.open[0, 1])


def test_adj_close_is_ignored_unless_the_source_is_adjusted() -> None:
    frame = CsvData(FIXTURES / "ohlcv").load(["AAPL"])
    assert frame.close[0, 0] == 185.64
    assert frame.adjusted is False


def test_an_adjusted_source_reads_adj_close_and_scales_open_high_low() -> None:
    frame = CsvData(FIXTURES / "ohlcv", adjusted=True).load(["AAPL"])
    factor = 184.53 / 185.64
    assert frame.close[0, 0] == 184.53
    assert frame.open is not None
    assert frame.open[0, 0] == pytest.approx(187.15 * factor)
    assert frame.volume is not None
    assert frame.volume[0, 0] == 82488700
    assert frame.adjusted is True


def test_ohlc_is_none_when_one_requested_file_has_closes_only(tmp_path: Path) -> None:
    write(tmp_path / "A.csv", "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    write(tmp_path / "B.csv", "date,close\n2024-01-02,7\n")
    src = CsvData(tmp_path)
    both = src.load(["A", "B"])
    assert (both.open, both.high, both.low, both.volume) == (None, None, None, None)
    assert src.load(["A"]).has_ohlc


def test_other_columns_in_a_symbol_file_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "A.csv", "Date,Symbol,Close,Dividends\n2024-01-02,A,1.5,none paid\n")
    assert CsvData(tmp_path).load(["A"]).close.tolist() == [[1.5]]


def test_symbols_lists_the_folders_file_names() -> None:
    assert CsvData(FIXTURES / "ohlcv").symbols() == ("AAPL", "MSFT")


# -- bad input -----------------------------------------------------------------


def test_a_non_numeric_cell_names_the_file_the_line_the_date_and_the_column(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "p.csv", "date,AAPL,MSFT\n2024-01-02,1,2\n2024-01-03,1.5,n.a.\n")
    with pytest.raises(DataError) as err:
        CsvData(path).load(["AAPL"])
    msg = str(err.value)
    assert str(path) in msg
    assert "line 3" in msg
    assert "2024-01-03" in msg
    assert "'MSFT'" in msg
    assert "'n.a.'" in msg


def test_a_non_numeric_close_in_a_symbol_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "A.csv", "date,close\n2024-01-02,1\n")
    write(tmp_path / "B.csv", "date,close\n1/2/2024,12O.5\n")
    with pytest.raises(DataError, match=r"B\.csv, line 2 \(date 2024-01-02\), column 'close'"):
        CsvData(tmp_path).load(["A", "B"])


def test_an_infinite_value_is_not_a_price(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X\n2024-01-02,inf\n")
    with pytest.raises(DataError, match="'inf' is not a number"):
        CsvData(path).load(["X"])


def test_an_unparseable_date_names_the_line_and_the_accepted_formats(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X\n2024-01-02,1\n31/12/2024,2\n")
    with pytest.raises(DataError, match=r"line 3: date '31/12/2024' is not a date; use YYYY-MM-DD"):
        CsvData(path).load(["X"])


def test_duplicate_dates_are_reported_and_nothing_is_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.csv",
        "date,X\n2024-01-02,1\n2024-01-03,2\n1/2/2024,3\n2024-01-03,4\n2024-01-04,5\n",
    )
    with pytest.raises(DataError) as err:
        CsvData(path).load(["X"])
    msg = str(err.value)
    assert "duplicate dates 2024-01-02, 2024-01-03" in msg
    assert "keep one row per date" in msg


def test_a_missing_path_says_what_to_give() -> None:
    with pytest.raises(DataError, match="not found; give a CSV file"):
        CsvData("/nonexistent/prices.csv").load(["X"])


def test_a_file_without_a_date_column_is_refused_with_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "day,X\n2024-01-02,1\n")
    with pytest.raises(DataError, match=r"no date column; name the column .* 'date' .*day, X"):
        CsvData(path).symbols()


def test_an_unknown_symbol_lists_the_available_ones() -> None:
    with pytest.raises(DataError, match=r"GOOG not in csv:.*available: AAPL, MSFT, SPY"):
        CsvData(FIXTURES / "wide_closes.csv").load(["AAPL", "GOOG"])


def test_an_unknown_symbol_in_a_folder_lists_the_files() -> None:
    with pytest.raises(DataError, match="available: AAPL, MSFT"):
        CsvData(FIXTURES / "ohlcv").load(["aapl"])


def test_a_symbol_file_without_close_points_to_the_adjusted_flag(tmp_path: Path) -> None:
    write(tmp_path / "A.csv", "date,Adj Close\n2024-01-02,1\n")
    with pytest.raises(DataError, match=r"no 'close' column; it has 'Adj Close'.*adjusted=True"):
        CsvData(tmp_path).load(["A"])
    assert CsvData(tmp_path, adjusted=True).load(["A"]).close.tolist() == [[1.0]]


def test_a_column_without_a_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X,\n2024-01-02,1,2\n")
    with pytest.raises(DataError, match="column 3 has no header"):
        CsvData(path).symbols()


def test_a_repeated_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "date,X,x\n2024-01-02,1,2\n")
    with pytest.raises(DataError, match=r"duplicate column headers \['X', 'x'\]"):
        CsvData(path).symbols()


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "")
    with pytest.raises(DataError, match="is empty"):
        CsvData(path).symbols()


def test_a_folder_without_csv_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"has no SYMBOL\.csv files"):
        CsvData(tmp_path).symbols()


# -- dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02",
        "2024-1-2",
        "2024-01-02 00:00:00",
        "2024-01-02T05:00:00Z",
        "2024-01-02 00:00:00-05:00",
        "2024/01/02",
        "20240102",
        "1/2/2024",
        "01/02/2024",
        " 1/2/2024 ",
    ],
)
def test_accepted_date_formats_all_mean_the_same_day(text: str) -> None:
    assert parse_day(text) == date(2024, 1, 2)


@pytest.mark.parametrize("text", ["", "2024-02-30", "13/1/2024", "Jan 2 2024", "2/1/24", "x"])
def test_other_date_texts_are_not_dates(text: str) -> None:
    assert parse_day(text) is None
