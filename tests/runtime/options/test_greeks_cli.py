"""`invest options greeks` as a user runs it: the figures, the implied vol, one-line errors."""

from __future__ import annotations

import json

import pytest

from invest.runtime.cli import main
from invest.runtime.options.pricing import greeks, implied_vol

HULL = ["--type", "call", "--spot", "49", "--strike", "50", "--vol", "0.2", "--rate", "0.05"]
DAYS = ["--days", str(0.3846 * 365)]  # Hull's 20 weeks, as calendar days


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["options", "greeks", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_prints_hulls_greeks_per_unit_per_point_and_per_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = run([*HULL, *DAYS], capsys)
    assert rc == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["price"].split()[1] == "2.4005"
    assert lines["delta"].split()[1] == "0.5216"
    assert lines["gamma"].split()[1] == "0.0655"
    assert "12.1052  per 1.00 vol; 0.1211 per vol point" in lines["vega"]
    assert "-4.3054  per year; -0.0118 per calendar day" in lines["theta"]
    assert lines["rho"].split()[1] == "8.9066"


def test_percentages_read_as_decimals(capsys: pytest.CaptureFixture[str]) -> None:
    _rc, plain, _ = run([*HULL, *DAYS], capsys)
    percent = ["--type", "call", "--spot", "49", "--strike", "50", "--vol", "20%", "--rate", "5%"]
    _rc, written, _ = run([*percent, *DAYS], capsys)
    assert written == plain
    _rc, other, _ = run([*percent[:-1], "6%", *DAYS], capsys)
    assert other != plain


def test_json_with_a_dividend_and_an_observed_price(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--type", "put", "--spot", "100", "--strike", "95", "--days", "182.5"]
    argv += ["--rate", "0.1", "--div", "0.05", "--vol", "0.2", "--price", "3.0", "--json"]
    rc, out, err = run(argv, capsys)
    assert rc == 0, err
    report = json.loads(out)
    assert report["t_years"] == 0.5
    # Haug's Merton (1973) example: 2.4648 at 20% vol.
    assert report["greeks"]["price"] == pytest.approx(2.4648, abs=5e-5)
    assert report["greeks"]["theta_per_day"] == pytest.approx(report["greeks"]["theta"] / 365)
    iv = implied_vol("put", 3.0, 100, 95, 0.5, 0.1, 0.05)
    assert report["implied_vol"] == iv
    assert iv > 0.2
    at_iv = greeks("put", 100, 95, 0.5, iv, 0.1, 0.05)
    assert report["greeks_at_implied_vol"]["price"] == pytest.approx(3.0)
    assert report["greeks_at_implied_vol"]["delta"] == at_iv.delta


def test_implied_vol_alone_needs_no_vol(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--type", "call", "--spot", "42", "--strike", "40", "--days", "182.5", "--rate", "0.1"]
    rc, out, err = run([*argv, "--price", "4.76"], capsys)
    assert rc == 0, err
    assert "at the implied vol 20.0066%" in out
    assert "at vol" not in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["--spot", "-1", "--strike", "40", "--days", "30", "--vol", "0.2"],
            "--spot and --strike must be positive",
        ),
        (
            ["--spot", "abc", "--strike", "40", "--days", "30", "--vol", "0.2"],
            "--spot must be a number",
        ),
        (["--spot", "42", "--strike", "40", "--days", "-1", "--vol", "0.2"], "--days must be >= 0"),
        (
            ["--spot", "42", "--strike", "40", "--days", "30", "--vol", "20"],
            "--vol 20 reads as 2000%",
        ),
        (["--spot", "42", "--strike", "40", "--days", "30", "--vol", "-0.1"], "--vol must be >= 0"),
        (["--spot", "42", "--strike", "40", "--days", "30"], "give --vol"),
        (
            ["--spot", "42", "--strike", "40", "--days", "30", "--price", "1"],
            "at or below its discounted intrinsic",
        ),
        (["--spot", "42", "--strike", "40", "--days", "30", "--price", "43"], "no-arbitrage bound"),
        (["--spot", "42", "--strike", "40", "--days", "0", "--price", "3"], "t <= 0"),
        (["--spot", "42", "--strike", "40", "--days", "30", "--vol", "nan"], "finite"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run(["--type", "call", *argv], capsys)
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert says in err
    assert "Traceback" not in err


def test_help_says_percentages_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["options", "greeks", "--help"])
    assert exc.value.code == 0
    assert "(20%)" in capsys.readouterr().out
