"""`invest options chain` on the bundled sample: the modelled chain, its analytics, errors."""

from __future__ import annotations

import json
from datetime import date

import pytest

from invest.runtime.cli import main
from invest.runtime.data.sample import SampleData, vix
from invest.runtime.options import analytics
from invest.runtime.options.modelled import ModelledChainSource


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["options", "chain", *argv, "--data", "sample"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_json_chain_is_the_modelled_chain_of_that_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run(["SP500", "--date", "2016-06-15", "--json", "--strikes", "3"], capsys)
    assert rc == 0, err
    got = json.loads(out)
    assert (got["underlying"], got["as_of"], got["source"], got["modelled"]) == (
        "SP500", "2016-06-15", "modelled", True,
    )  # fmt: skip
    bars = SampleData().load(["SP500"], end=date(2016, 6, 15))
    expected = ModelledChainSource(bars, vix=vix()).chain("SP500", date(2016, 6, 15))
    first = expected.expiries()[0]
    assert got["spot"] == expected.spot
    assert got["atm_iv"] == pytest.approx(analytics.atm_iv(expected, first))
    assert got["expiries"][0]["expiry"] == first.isoformat()
    strikes = [row["strike"] for row in got["expiries"][0]["strikes"]]
    assert len(strikes) == 6  # three each side of the spot
    assert strikes[2] <= expected.spot < strikes[3]
    assert 0.0 <= got["iv_percentile_1y"] <= 1.0


def test_the_vix_path_shows_in_the_notes_only_where_the_data_has_vix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _rc, with_vix, _ = run(["SP500", "--date", "2016-06-15", "--json"], capsys)
    _rc, without, _ = run(["SP500", "--date", "2021-06-15", "--json"], capsys)
    assert "VIX" in " ".join(json.loads(with_vix)["notes"])
    assert "VIX" not in " ".join(json.loads(without)["notes"])


def test_the_text_view_says_the_chain_is_modelled(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["aapl", "--date", "2016-06-15", "--expiries", "1"], capsys)
    assert rc == 0, err
    assert out.startswith("AAPL 2016-06-15 spot")
    assert "modelled chain" in out.splitlines()[0]
    assert "ATM IV" in out
    assert "IV percentile" in out
    assert "modelled, not observed" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["SP500", "--date", "16/06/2016"], "--date must be YYYY-MM-DD"),
        (["ZZZ"], "ZZZ"),
        (["AAPL", "--date", "1990-01-05"], "realised_vol_window"),
        (["SP500", "--expiries", "0"], "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _out, err = run(argv, capsys)
    assert rc == 2
    assert says in err
    assert "Traceback" not in err
