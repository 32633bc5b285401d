"""The `invest` command as a user runs it: outputs, files, and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.domain import HaltState
from invest.runtime.ledger import Ledger

INVEST = [sys.executable, "-m", "invest.runtime.cli"]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("invest 0.")


def test_full_backtest_writes_the_four_files(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    rc = main(
        [
            "backtest",
            "--strategy",
            "trend_king",
            "--start",
            "1990-01-01",
            "--end",
            "2022-12-28",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["start"] == "1990-01-02"
    assert report["end"] == "2022-12-28"
    assert report["sessions"] == 8313
    assert set(report["benchmarks"]) == {"index_buy_and_hold", "equal_weight_buy_and_hold"}
    assert any("survivorship" in n for n in report["notes"])
    assert report["params"]["risk"]["max_position_pct"] == 0.2
    equity = (out / "equity.csv").read_text().splitlines()
    assert equity[0].startswith("date,equity,benchmark")
    assert len(equity) == 8314
    trades = (out / "trades.csv").read_text().splitlines()
    assert trades[0] == "date,symbol,side,quantity,price,fees,reason"
    assert len(trades) - 1 == report["fills"] > 100
    decisions = (out / "decisions.jsonl").read_text().splitlines()
    first = json.loads(decisions[0])
    assert {"regime", "scores", "clamps", "orders", "targets"} <= set(first)


def test_backtest_flags_let_any_universe_run_without_a_config(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    rc = main(
        [
            "backtest",
            "--universe",
            "AAPL,MSFT,KO",
            "--benchmark",
            "SP500",
            "--start",
            "2010-01-04",
            "--end",
            "2012-12-31",
            "--cash",
            "5000",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["params"]["config"]["universe"] == ["AAPL", "MSFT", "KO"]
    assert report["params"]["config"]["cash"] == 5000
    symbols = {line.split(",")[1] for line in (out / "trades.csv").read_text().splitlines()[1:]}
    assert symbols <= {"AAPL", "MSFT", "KO"}


def test_backtest_without_out_lands_under_invest_home_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from invest.runtime.paths import Paths

    rc = main(["backtest", "--universe", "AAPL,MSFT,KO", "--start", "2012-01-03", "--no-html"])
    assert rc == 0
    base = Paths.resolve().reports / "backtests"
    (folder,) = base.iterdir()  # INVEST_HOME is this test's own (tests/conftest.py)
    assert re.fullmatch(r"trend-king-\d{8}-\d{6}", folder.name)
    assert sorted(p.name for p in folder.iterdir()) == [
        "decisions.jsonl",
        "equity.csv",
        "report.json",
        "trades.csv",
    ]
    assert f"wrote {folder / 'report.json'}" in capsys.readouterr().err.replace("\n", "")


def test_demo_quick_writes_a_ledger_with_every_example_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_path = tmp_path / "demo.sqlite"
    assert main(["demo", "--quick", "--ledger", str(ledger_path)]) == 0
    text = capsys.readouterr().out
    assert "trend-daily" in text
    assert "Equal-weight buy&hold" in text
    ledger = Ledger(ledger_path, readonly=True)
    # The example accounts, and the demo's LLM-gated account built in code.
    assert ledger.accounts() == [
        "defensive-weekly", "gated-daily", "hybrid-daily", "spreads-weekly", "trend-daily",
        "wheel-weekly",
    ]  # fmt: skip
    assert ledger.decisions("trend-daily", 1)[0]["day"] == "2022-12-28"
    assert len(ledger.equity_curve("trend-daily")) == 249  # sample sessions 2022-01-03..2022-12-28
    # The options accounts' records are in the ledger as a live run writes them.
    assert "wheel-weekly: what the options did" in text
    assert len(ledger.equity_curve("wheel-weekly")) == 249
    for name in ("wheel-weekly", "spreads-weekly"):
        assert ledger.conn.execute(
            "SELECT COUNT(*) FROM option_positions WHERE account = ?", [name]
        ).fetchone()[0]
    assigned = ledger.conn.execute(
        "SELECT COUNT(*) FROM fills WHERE account = 'wheel-weekly' AND reason = 'assignment'"
    ).fetchone()[0]
    assert assigned >= 1  # the wheel's put assigned: shares bought with their order row
    from invest.runtime.ledger.integrity import check_integrity

    assert check_integrity(ledger_path) == []


def test_run_twice_on_the_same_bar_sends_no_second_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # On the last sample bar the regime is DEFENSE: this account buys its defensive names.
    assert main(["run", "defensive-weekly"]) == 0
    assert main(["run", "defensive-weekly"]) == 0
    from invest.runtime.paths import Paths

    ledger = Ledger(Paths.resolve().ledger, readonly=True)
    ids = [r[0] for r in ledger.conn.execute("SELECT client_order_id FROM orders").fetchall()]
    assert len(ids) == 5
    assert len(set(ids)) == 5
    assert len(ledger.decisions("defensive-weekly")) == 1
    assert "BUY" in capsys.readouterr().out


def test_a_local_run_of_a_halted_account_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from invest.runtime.paths import Paths

    assert main(["run", "defensive-weekly"]) == 0  # the account's first cycle
    path = Paths.resolve().ledger
    ledger = Ledger(path)
    orders = ledger.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    ledger.set_halt("defensive-weekly", HaltState.HALTED, "a test halt")
    ledger.close()
    assert main(["run", "defensive-weekly"]) == 2  # the CLI's exit code for a refused command
    err = capsys.readouterr().err
    assert "run refused: defensive-weekly is HALTED (a test halt)" in err
    assert "invest resume defensive-weekly" in err
    ledger = Ledger(path, readonly=True)
    assert len(ledger.decisions("defensive-weekly")) == 1  # no second cycle ran
    assert ledger.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == orders


def test_dry_run_prints_the_decision_and_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from invest.runtime.paths import Paths

    assert main(["run", "trend-daily", "--dry-run"]) == 0
    assert "[dry run] 2022-12-28 trend-daily" in capsys.readouterr().out
    assert not Paths.resolve().ledger.exists()


def test_bad_config_fails_in_one_line_with_the_key_path_and_loses_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    text = '[accounts.main]\nuniverse = ["AAPL"]\ncash = -5\nrisk = "yolo"\n'
    bad.write_text(text)
    proc = subprocess.run(
        [*INVEST, "config", "check", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "accounts.main.cash: Input should be greater than 0" in proc.stderr
    assert bad.read_text() == text


def test_unknown_key_in_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[engine]\ndata = "sample"\nslipage = 3\n')
    assert main(["config", "check", str(bad)]) == 2
    assert "engine.slipage: unknown key" in capsys.readouterr().err


def test_example_config_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    from invest.runtime.paths import example_config

    assert main(["config", "check", str(example_config())]) == 0
    assert "5 account(s)" in capsys.readouterr().out


def test_unknown_symbol_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--universe", "AAPL,NOPE", "--start", "2020-01-02"]) == 2
    err = capsys.readouterr().err
    assert "'NOPE' is not in the data" in err
    assert "Traceback" not in err


def test_bad_date_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--start", "2020-13-01"]) == 2
    assert "--start: '2020-13-01' is not a date; use YYYY-MM-DD" in capsys.readouterr().err


def test_data_validate_reports_the_real_jumps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", "--symbols", "AAPL,SP500"]) == 0
    out = capsys.readouterr().out
    assert "AAPL" in out
    assert "jump" in out


def test_debug_prints_the_paths_it_uses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "config", "check"]) == 0
    assert "ledger:" in capsys.readouterr().err


def test_debug_paths_prints_the_paths_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "paths"]) == 0
    out, err = capsys.readouterr()
    assert out.count("ledger:") == 1
    assert "ledger:" not in err


def test_global_options_work_after_the_subcommand_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tmp_path / "before.toml", tmp_path / "after.toml"
    assert main(["paths", "--config", str(after)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"config:  {after} (--config)"
    assert main(["--config", str(before), "paths", "--debug"]) == 0  # before: unchanged
    assert capsys.readouterr().out.splitlines()[0] == f"config:  {before} (--config)"
    assert main(["config", "check", "--config", str(after)]) == 2  # nested subcommands too
    assert f"config file not found: {after}" in capsys.readouterr().err


def test_robustness_help_shows_single_percent_signs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["robustness", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "(+-0.1%)" in out
    assert "%%" not in out


_NO_TORCH = "import sys; sys.modules['torch'] = sys.modules['sb3_contrib'] = None; "


def test_train_help_works_without_the_train_extra() -> None:
    code = _NO_TORCH + "from invest.runtime.cli import main; sys.exit(main(['train', '--help']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: invest train")
    assert "--export-unpromoted" in done.stdout


def test_train_without_the_extra_is_the_install_hint() -> None:
    code = _NO_TORCH + "from invest.runtime.cli import main; sys.exit(main(['train', '--quick']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "needs the train extra: pip install" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["backtest", "robustness"])
def test_start_after_end_is_refused_naming_both(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--start", "2022-06-01", "--end", "2022-01-01"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --start 2022-06-01 is after --end 2022-01-01: swap them\n"


@pytest.mark.parametrize("cash", ["-5", "0"])
def test_a_bad_cash_flag_names_the_flag_not_an_internal_account(
    cash: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--cash", cash]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --cash must be more than 0 (got {cash}): the starting cash\n"
    assert "accounts." not in err


def test_a_dry_run_on_the_demo_ledger_says_it_plans_from_the_start_cash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from invest.runtime.paths import Paths

    assert main(["demo", "--quick"]) == 0
    capsys.readouterr()
    assert main(["run-all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"[dry run] {Paths.resolve().ledger} is the demo's ledger")
    assert "plans from its starting cash" in first
    assert out.count("is the demo's ledger") == 1  # once, not per account
    # run-all runs the options accounts too (their options session)
    assert "[dry run] 2022-12-28 wheel-weekly" in out
    assert "[dry run] 2022-12-28 spreads-weekly" in out
    assert main(["run", "trend-daily", "--dry-run"]) == 0
    assert "is the demo's ledger" in capsys.readouterr().out


def test_a_dry_run_without_a_demo_ledger_says_nothing_of_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "trend-daily", "--dry-run"]) == 0
    assert "demo" not in capsys.readouterr().out


def test_validate_and_backtest_report_holiday_rows_alike_without_a_raw_log_line(
    tmp_path: Path,
) -> None:
    import numpy as np

    weekdays = [
        d
        for d in np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-12-31"))
        if np.is_busday(d)  # holidays included
    ]
    rows = [f"{d},{100 + i * 0.1 + i % 7},{3000 + i + i % 5 * 3}" for i, d in enumerate(weekdays)]
    csv = tmp_path / "bars.csv"
    csv.write_text("date,AAA,SP500\n" + "\n".join(rows) + "\n")
    spec = f"csv:{csv}"
    # A fresh process: the logging set-up of `invest` itself, as a user sees it.
    validate = subprocess.run(
        [*INVEST, "data", "validate", "--data", spec], capture_output=True, text=True
    )
    assert validate.returncode == 1
    assert "not_session" in validate.stdout
    assert "WARNING" not in validate.stderr
    backtest = subprocess.run(
        [*INVEST, "backtest", "--data", spec, "--universe", "AAA"], capture_output=True, text=True
    )
    assert backtest.returncode == 0, backtest.stderr
    assert "validation error(s)" in backtest.stdout
    assert "not_session" in backtest.stdout
    assert "WARNING" not in backtest.stderr
