"""`invest portfolio weights` as a user runs it: on the bundled sample, point in time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from invest.runtime.cli import main
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.portfolio.construction import ledoit_wolf, trailing_returns, weights

UNIVERSE = ["AAPL", "MSFT", "JNJ", "XOM", "KO"]
BASE = ["--universe", ",".join(UNIVERSE), "--data", "sample", "--date", "2019-12-31"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["portfolio", "weights", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_weights_match_the_library_on_the_same_window(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run(["--method", "min_variance", *BASE, "--lookback", "126", "--json"], capsys)
    assert rc == 0, err
    report = json.loads(out)
    assert report["as_of"] == "2019-12-31"
    frame = SampleData().load(UNIVERSE)
    t = frame.row_for(date(2019, 12, 31))
    cov = ledoit_wolf(trailing_returns(frame.close, t, 126))[0] * 252
    expected = weights("min_variance", cov)
    got = np.array([r["weight"] for r in report["weights"]])
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert [r["symbol"] for r in report["weights"]] == UNIVERSE
    assert report["annual_vol"] == pytest.approx(float(np.sqrt(expected @ cov @ expected)))
    contributions = [r["risk_contribution"] for r in report["weights"]]
    assert sum(contributions) == pytest.approx(report["annual_vol"])


def test_risk_parity_table_has_equal_shares_and_the_cap_and_cash_move_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run(["--method", "risk_parity", *BASE], capsys)
    assert rc == 0, err
    rows = [line.split() for line in out.splitlines()]
    shares = [r[-1] for r in rows if r and r[0] in UNIVERSE]
    assert shares == ["20.0%"] * 5
    assert "expected annual volatility" in out
    _, capped, _ = run(["--method", "risk_parity", *BASE, "--cap", "0.21", "--json"], capsys)
    _, cash, _ = run(["--method", "equal", *BASE, "--cash-reserve", "10%", "--json"], capsys)
    assert max(r["weight"] for r in json.loads(capped)["weights"]) == pytest.approx(0.21)
    assert [r["weight"] for r in json.loads(cash)["weights"]] == pytest.approx([0.18] * 5)


def test_closes_after_the_date_are_not_read(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, early, _ = run(["--method", "inverse_vol", *BASE, "--json"], capsys)
    later = [*BASE[:-1], "2020-06-30"]
    _, late, _ = run(["--method", "inverse_vol", *later, "--json"], capsys)
    assert json.loads(early)["weights"] != json.loads(late)["weights"]

    class Leaky(SampleData):
        """A source that ignores ``end`` and hands back every session."""

        def load(
            self, symbols: Sequence[str], start: date | None = None, end: date | None = None
        ) -> BarFrame:
            return super().load(symbols, start, None)

    monkeypatch.setattr("invest.runtime.data.open_source", lambda spec, **kw: Leaky())
    _, leaky, err = run(["--method", "inverse_vol", *BASE, "--json"], capsys)
    assert leaky == early, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "equal", *BASE, "--cap", "0.1"], "cap 0.1 x 5 names = 0.5 < the invested"),
        (["--method", "equal", *BASE, "--cap", "lots"], "--cap must be a number"),
        (["--method", "equal", *BASE, "--lookback", "100000"], "shorten the lookback"),
        (["--method", "equal", "--universe", "AAPL,AAPL", "--data", "sample"], "distinct"),
        (["--method", "equal", *BASE[:-1], "2019-13-01"], "--date must be YYYY-MM-DD"),
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _out, err = run(argv, capsys)
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
