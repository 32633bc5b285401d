"""A replay over sessions the account's model pack trained on says so before its results."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.backtest.insample import (
    in_sample_notes,
    notes_for_spans,
    pack_manifest,
    training_spans,
)
from invest.runtime.backtest.robustness_report import Options
from invest.runtime.cli import main
from invest.runtime.config import AccountConfig
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.paths import Paths
from invest.runtime.policy.manifest import Manifest
from invest.runtime.robustness_cli import add_robustness_command

UNIVERSE = "AAPL,MSFT,KO,XOM,JNJ"
#: The bundled pack ships fold 2022's policies, trained on 1990-01-02..2021-12-01.
NOTE = (
    "1990-01-02..2021-12-01 are in-sample for model pack default (trained on them); "
    "only later sessions are out of sample"
)


def _account(strategy: str) -> AccountConfig:
    return AccountConfig(strategy=strategy, universe=("AAPL", "MSFT"))  # type: ignore[arg-type]


def _bundled() -> dict[str, Any]:
    manifest = pack_manifest(_account("hybrid"))
    assert manifest is not None
    return manifest.model_dump(mode="json")


def _manifest(**changes: Any) -> Manifest:
    data = _bundled()
    data.update(changes)
    return Manifest.model_validate(data)


# ---------------------------------------------------------------------------- the rule


def test_the_bundled_pack_was_trained_on_its_last_folds_window() -> None:
    spans, every_window = training_spans(Manifest.model_validate(_bundled()))
    assert spans == [(date(1990, 1, 2), date(2021, 12, 1))]
    assert not every_window


@pytest.mark.parametrize("strategy", ["hybrid", "rl_ensemble"])
def test_a_pack_account_over_its_training_years_gets_the_note(strategy: str) -> None:
    acct = _account(strategy)
    assert in_sample_notes(acct, date(2019, 1, 2), date(2019, 6, 28)) == [NOTE]
    assert in_sample_notes(acct, date(2021, 12, 1), date(2022, 12, 28)) == [NOTE]  # one day
    assert in_sample_notes(acct, date(2021, 12, 2), date(2022, 12, 28)) == []
    assert in_sample_notes(acct, date(1980, 1, 2), date(1990, 1, 1)) == []
    assert in_sample_notes(acct, date(1985, 1, 2), date(1990, 1, 2)) == [NOTE]  # one day


def test_rule_based_accounts_get_no_note() -> None:
    for strategy in ("trend_king", "llm_manager"):
        acct = AccountConfig.model_construct(strategy=strategy, universe=("AAPL",))
        assert in_sample_notes(acct, date(1990, 1, 2), date(2022, 12, 28)) == []


def test_the_span_is_the_union_of_the_shipped_folds_train_ranges() -> None:
    data = _bundled()
    policies = data["policies"]
    policies[0]["fold"], policies[1]["fold"] = 2005, 2010  # three folds shipped
    windows = [
        {"fold": 2005, "train": ["1990-01-02", "1995-12-29"]},
        {"fold": 2010, "train": ["1994-01-03", "2000-12-29"]},  # overlaps 2005's
        {"fold": 2022, "train": ["2010-01-04", "2015-12-31"]},
        {"fold": 2023, "train": ["1990-01-02", "2022-12-01"]},  # not shipped
    ]
    m = Manifest.model_validate({**data, "training": {"windows": windows}})
    spans, _ = training_spans(m)
    assert spans == [
        (date(1990, 1, 2), date(2000, 12, 29)),
        (date(2010, 1, 4), date(2015, 12, 31)),
    ]
    acct = _account("hybrid")
    [note] = in_sample_notes(acct, date(2001, 1, 2), date(2012, 1, 3), manifest=m)
    assert note.startswith("1990-01-02..2000-12-29, 2010-01-04..2015-12-31 are in-sample")
    assert note.endswith("only sessions outside them are out of sample")
    assert in_sample_notes(acct, date(2001, 1, 2), date(2009, 12, 31), manifest=m) == []
    assert in_sample_notes(acct, date(2016, 1, 4), date(2022, 12, 28), manifest=m) == []


def test_policies_that_name_no_fold_count_every_window() -> None:
    data = _bundled()
    for p in data["policies"]:
        p["fold"] = None
    m = Manifest.model_validate(data)
    assert training_spans(m) == ([(date(1990, 1, 2), date(2021, 12, 1))], True)
    [note] = in_sample_notes(_account("hybrid"), date(2019, 1, 2), date(2019, 6, 28), manifest=m)
    assert "its policies name no fold, so every training window counts" in note


def test_a_pack_that_records_no_training_window_says_it_cannot_tell() -> None:
    for m in (_manifest(training=None), _manifest(training={"windows": []})):
        [note] = in_sample_notes(
            _account("rl_ensemble"), date(2022, 1, 3), date(2022, 12, 28), manifest=m
        )
        assert note.startswith("model pack default records no training window")
        assert "may be in-sample" in note


def test_several_spans_give_each_note_once() -> None:
    acct = _account("hybrid")
    spans = [(date(2019, 1, 2), date(2019, 6, 28)), (date(2008, 1, 2), date(2009, 3, 9))]
    assert notes_for_spans(acct, spans) == [NOTE]
    assert notes_for_spans(acct, [(date(2022, 1, 3), date(2022, 12, 28))]) == []


# ---------------------------------------------------------------------------- invest backtest


def _backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: str, start: str, end: str
) -> tuple[str, dict[str, Any]]:
    out = tmp_path / f"bt-{strategy}-{start}"
    argv = ["backtest", "--strategy", strategy, "--universe", UNIVERSE, "--start", start]
    assert main([*argv, "--end", end, "--out", str(out)]) == 0
    return capsys.readouterr().out, json.loads((out / "report.json").read_text())


def test_a_hybrid_backtest_inside_the_training_window_says_so_before_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, report = _backtest(tmp_path, capsys, "hybrid", "2019-01-02", "2019-06-28")
    flat = " ".join(text.split())  # rich wraps long lines
    assert f"Note: {NOTE}" in flat
    assert flat.index(NOTE) < flat.index("against both benchmarks")
    assert flat.count(NOTE) == 1
    assert report["notes"][0] == NOTE


def test_a_hybrid_backtest_after_the_training_window_has_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, report = _backtest(tmp_path, capsys, "hybrid", "2022-01-03", "2022-12-28")
    assert "in-sample" not in text
    assert not any("in-sample" in n for n in report["notes"])


def test_a_trend_king_backtest_has_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, report = _backtest(tmp_path, capsys, "trend_king", "2019-01-02", "2019-06-28")
    assert "in-sample" not in text
    assert not any("in-sample" in n for n in report["notes"])


def test_the_json_report_carries_the_note_and_stdout_stays_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backtest", "--strategy", "hybrid", "--universe", UNIVERSE]
    assert main([*argv, "--start", "2019-01-02", "--end", "2019-03-29", "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["notes"][0] == NOTE
    assert NOTE in " ".join(printed.err.split())


# ---------------------------------------------------------------------------- invest demo


class _From:
    """The bundled sample from ``first`` on (a short demo that still covers 2021)."""

    name = "sample"

    def __init__(self, first: date) -> None:
        self.first = first
        self.sample = SampleData()

    def symbols(self) -> tuple[str, ...]:
        return self.sample.symbols()

    def load(self, symbols: Any, start: date | None = None, end: date | None = None) -> BarFrame:
        return self.sample.load(symbols, max(start or self.first, self.first), end)


@pytest.mark.parametrize(("quick", "noted"), [(False, True), (True, False)])
def test_the_demo_notes_the_hybrid_account_before_its_summary(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    quick: bool,
    noted: bool,
) -> None:
    from invest.runtime import commands

    monkeypatch.setattr(commands, "_source", lambda spec, paths: _From(date(2021, 6, 1)))
    argv = ["demo", "--ledger", str(tmp_path / "demo.sqlite")]
    assert main([*argv, "--quick"] if quick else argv) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "hybrid-daily: " in flat
    if noted:  # 2021-06-01..2022-12-28: the first six months are in-sample
        assert flat.count(NOTE) == 1
        at = flat.index(NOTE)
        assert flat.index("defensive-weekly against both benchmarks") < at
        assert at < flat.index("hybrid-daily: ") < flat.index("hybrid-daily against")
    else:  # --quick replays 2022 only
        assert "in-sample" not in flat


# ---------------------------------------------------------------------------- invest robustness


def test_robustness_puts_the_note_before_its_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_robustness_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "rob"
    who = ["robustness", "--strategy", "hybrid", "--universe", UNIVERSE]
    window = ["--start", "2019-01-02", "--end", "2019-12-31"]
    args = parser.parse_args(
        [*who, *window, "--paths", "8", "--parts", "bootstrap", "--seed", "1", "--out", str(out)]
    )
    assert args.handler(args, Paths.resolve(None)) == 0
    printed = capsys.readouterr()
    assert f"Note: {NOTE}" in printed.err  # said at once, before the long part
    summary = (out / "summary.md").read_text()
    assert summary.count(f"Note: {NOTE}") == 1
    assert summary.index(NOTE) < summary.index("**Verdict") < summary.index("## Distributions")
    assert printed.out == summary
    assert json.loads((out / "report.json").read_text())["notes"][0] == NOTE


def test_robustness_counts_the_crisis_replays_it_runs() -> None:
    from invest.runtime.robustness_cli import _in_sample

    frame = SampleData().load(("SP500",), None, None)
    acct = _account("hybrid")
    paths = Paths.resolve(None)
    w = (date(2022, 1, 3), date(2022, 12, 28))
    assert _in_sample(acct, frame, *w, Options(parts=("mc", "bootstrap")), paths) == []
    assert _in_sample(acct, frame, *w, Options(parts=("crises",)), paths) == [NOTE]
    assert _in_sample(_account("trend_king"), frame, *w, Options(), paths) == []
