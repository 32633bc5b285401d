"""`invest models show NAME --html`: the pack's page shows its manifest's figures (the JSON
`models show --json` prints), the walk-forward bars are its per-year table, and the text of
`models show` is unchanged."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from invest.runtime.cli import main
from invest.runtime.reports.charts import MISSING_EXTRA
from invest.runtime.reports.walkforward import WalkForward, figures
from tests.runtime.reports.page_parse import Page, external, parse

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Page, dict[str, Any]]:
    out = tmp_path_factory.mktemp("pack") / "pack.html"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["models", "show", "default", "--json"]) == 0
    doc = json.loads(buf.getvalue())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["models", "show", "default", "--html", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    return text, parse(text), doc


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def test_the_walk_forward_table_is_the_manifests(shown: tuple[str, Page, dict[str, Any]]) -> None:
    _text, page, doc = shown
    wf = doc["manifest"]["walk_forward"]
    table = page.tables["walk-forward"]
    assert table[0] == wf["columns"]
    assert len(table) - 1 == len(wf["rows"]) == 18
    for row, src in zip(table[1:], wf["rows"], strict=True):
        assert row[:2] == [str(src[0]), src[1]]
        assert row[2:] == [_pct(x) for x in src[2:]]


def test_the_gate_and_degenerate_checks_are_the_manifests(
    shown: tuple[str, Page, dict[str, Any]],
) -> None:
    _text, page, doc = shown
    pr = doc["manifest"]["promotion"]
    for name, checks in (("gate", pr["criteria"]), ("degenerate", pr["degenerate"])):
        table = page.tables[name]
        assert len(table) - 1 == len(checks) > 0
        for row, c in zip(table[1:], checks, strict=True):
            assert row[0] == c["check"]
            assert row[3] == ("ok" if c["passed"] else "FAIL")
            assert row[4] == c["detail"]
            if isinstance(c["value"], float):
                assert row[1] == f"{c['value']:.4f}"
            else:
                assert all(f"{k} " in row[1] for k in c["value"])
    joined = "".join(page.text)
    assert ("Passed: " if pr["passed"] else "NOT passed: ") + pr["rule"] in joined
    ci = pr["sharpe_diff_ci"]
    assert f"[{ci['low']:.4f}, {ci['high']:.4f}]" in joined


def test_the_chained_table_is_the_manifests(shown: tuple[str, Page, dict[str, Any]]) -> None:
    _text, page, doc = shown
    chained = doc["manifest"]["promotion"]["chained"]
    rows = {(r[0], r[1]): r[2:] for r in page.tables["chained"][1:]}
    # The splits `models show` prints: test and validation (the manifest also chains "all").
    assert len(rows) == len(chained["test"]) + len(chained["validation"]) == 10
    for split in ("test", "validation"):
        for name, f in chained[split].items():
            assert rows[(split, name)] == [
                _pct(f["cagr"]),
                f"{f['sharpe']:.2f}",
                _pct(f["max_drawdown"]),
                _pct(f["total_return"]),
            ]


def test_the_in_sample_years_are_the_training_windows(
    shown: tuple[str, Page, dict[str, Any]],
) -> None:
    _text, page, doc = shown
    windows = doc["manifest"]["training"]["windows"]
    table = page.tables["folds"]
    assert [r[0] for r in table[1:]] == [str(w["fold"]) for w in windows]
    for row, w in zip(table[1:], windows, strict=True):
        assert row[1:3] == [
            f"{w['train'][0]} .. {w['train'][1]}",
            f"{w['test'][0]} .. {w['test'][1]}",
        ]
    last = next(w for w in windows if w["fold"] == doc["manifest"]["policies"][0]["fold"])
    assert f"trained on {windows[0]['train'][0]} .. {last['train'][1]}" in "".join(page.text)


def test_the_facts_charts_and_urls(shown: tuple[str, Page, dict[str, Any]]) -> None:
    text, page, doc = shown
    facts = {r[0]: r[1] for r in page.tables["pack"][1:]}
    assert facts["sha"] == doc["sha"]
    assert facts["Status"] == ("ok" if doc["ok"] else facts["Status"])
    assert [r[0] for r in page.tables["policies"][1:]] == [
        p["file"] for p in doc["manifest"]["policies"]
    ]
    assert set(page.charts) == {"walk-forward"}
    [(w, h)] = page.charts["walk-forward"]
    assert float(w.removesuffix("pt")) > 0
    assert float(h.removesuffix("pt")) > 0
    assert page.scripts == 0
    assert [r for r in page.refs if external(r)] == []
    assert "http://" not in text
    assert "https://" not in text


# ---- the bars, read from matplotlib's figure objects


def _bars(ax: Axes) -> dict[str, list[float]]:
    return {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}


def test_the_bars_are_each_series_per_year(shown: tuple[str, Page, dict[str, Any]]) -> None:
    _text, _page, doc = shown
    wf = doc["manifest"]["walk_forward"]
    table = WalkForward(wf["columns"], wf["rows"], wf["metric"])
    assert table.series() == ["trend_king", "rl_ensemble", "hybrid", "equal_weight_bh", "index_bh"]
    fig = figures(table)["walk-forward"]
    ax = fig.axes[0]
    bars = _bars(ax)
    assert list(bars) == table.series()
    for j, name in enumerate(wf["columns"]):
        if name in bars:
            assert bars[name] == pytest.approx([r[j] for r in wf["rows"]]), name
    # Grouped by year: each year's bars sit around its tick, in series order.
    xs = np.array([[p.get_x() + p.get_width() / 2 for p in c.patches] for c in ax.containers])
    assert np.all(np.diff(xs, axis=0) > 0)
    assert np.allclose(xs.mean(axis=0), np.arange(len(wf["rows"])))
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(r[0]) for r in wf["rows"]]
    ylabels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(ylabels) >= 3
    assert all(s.endswith("%") for s in ylabels)
    # The test years are shaded: the span covers exactly the rows of the test split.
    tests = [i for i, r in enumerate(wf["rows"]) if r[1] == "test"]
    [span] = [p for p in ax.patches if p.get_label() == "test years"]
    x0, _y0, width, _h = span.get_bbox().bounds
    assert (x0, x0 + width) == pytest.approx((tests[0] - 0.5, tests[-1] + 0.5))


def test_a_table_of_sharpe_ratios_keeps_its_numbers_and_no_percent_axis() -> None:
    wf = WalkForward(
        ("fold", "split", "a", "b_bh"),
        ((2020, "test", 0.5, 1.25), (2021, "test", -0.2, None)),
        "sharpe",
    )
    assert not wf.percent
    assert wf.series() == ["a", "b_bh"]
    from invest.runtime.reports.walkforward import table_rows

    assert table_rows(wf) == [
        ["2020", "test", "0.5000", "1.2500"],
        ["2021", "test", "-0.2000", "-"],
    ]
    ax = figures(wf)["walk-forward"].axes[0]
    bars = _bars(ax)
    assert bars["a"] == pytest.approx([0.5, -0.2])
    assert bars["b_bh"][0] == pytest.approx(1.25)
    assert np.isnan(bars["b_bh"][1])
    ax.figure.canvas.draw()
    assert not any(t.get_text().endswith("%") for t in ax.get_yticklabels())


# ---- the command


def test_models_show_prints_the_same_text_with_or_without_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "show", "default"]) == 0
    plain = capsys.readouterr().out
    out = tmp_path / "p" / "report.html"
    assert main(["models", "show", "default", "--html", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out == plain
    assert f"wrote {out}" in printed.err
    assert out.is_file()


def test_the_page_goes_to_invest_home_reports_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    assert main(["models", "show", "default", "--html"]) == 0
    page = tmp_path / "reports" / "pack-default" / "report.html"
    assert page.is_file()
    assert f"wrote {page}" in capsys.readouterr().err


def test_out_without_html_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "show", "default", "--out", str(tmp_path / "x.html")]) == 2
    assert capsys.readouterr().err.strip() == "error: --out needs --html (it names the page's file)"
    assert not (tmp_path / "x.html").exists()


def test_without_matplotlib_the_text_is_shown_and_the_page_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "report.html"
    assert main(["models", "show", "default", "--html", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("pack default")
    assert f"no report.html: {MISSING_EXTRA}" in printed.err
    assert not out.exists()


def test_a_pack_without_gate_training_or_walk_forward_gets_a_page_of_what_it_has(
    shown: tuple[str, Page, dict[str, Any]],
) -> None:
    from invest.runtime.reports.pack import pack_html

    _text, _page, doc = shown
    manifest = {
        k: v
        for k, v in doc["manifest"].items()
        if k not in ("walk_forward", "promotion", "training", "parity")
    }
    page = parse(
        pack_html(
            {**doc, "ok": False, "problems": ["policy-1.onnx MODIFIED"], "manifest": manifest}
        )
    )
    assert page.charts == {}
    assert {"walk-forward", "gate", "degenerate", "chained"}.isdisjoint(page.tables)
    assert page.tables["folds"] == [["Fold", "Trained on", "Tested on", "Embargo (sessions)"]]
    facts = {r[0]: r[1] for r in page.tables["pack"][1:]}
    assert facts["Status"] == "REFUSED: policy-1.onnx MODIFIED"
    assert "does not say which sessions the policies trained on" in "".join(page.text)
