"""The house chart style: inline SVG for pages, PNG at a width, date axes, decimation, and a
clear line when matplotlib is missing."""

from __future__ import annotations

import io
import itertools
import sys
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from invest.runtime.reports import charts, html


def _chart() -> charts.Figure:
    days = [date(2019, 1, 1) + timedelta(days=i) for i in range(800)]
    fig = charts.new_figure(8.0, 3.0)
    ax = fig.axes[0]
    ax.plot(charts.day_array(days), np.linspace(1000, 2500, len(days)), label="equity")
    charts.money_axis(ax)
    charts.date_axis(ax)
    ax.legend()
    return fig


def test_the_svg_is_an_inline_element_with_text_as_text_and_no_url() -> None:
    svg = charts.figure_svg(_chart())
    assert svg.startswith("<svg ")
    assert svg.endswith("</svg>")
    for left_out in ("<?xml", "DOCTYPE", "<metadata>"):
        assert left_out not in svg
    assert "http" not in svg
    assert ">equity</text>" in svg  # svg.fonttype none: the legend is text, not glyph paths
    assert "2,500" in svg or "2,400" in svg  # money labels with a thousands separator
    assert charts.figure_svg(_chart()) == svg  # no date, fixed ids: the same bytes each run
    assert html.chart("equity", svg).startswith('<figure class="chart" data-chart="equity"><svg')


def test_the_png_is_as_wide_as_asked() -> None:
    png = charts.figure_png(_chart(), 1080)
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (1080, 405)
    with pytest.raises(ValueError, match="at least 100 px"):
        charts.figure_png(_chart(), 50)


def test_the_date_axis_labels_years_and_the_value_axis_money() -> None:
    fig = _chart()
    fig.canvas.draw()
    ax = fig.axes[0]
    xlabels = [t.get_text() for t in ax.get_xticklabels()]
    assert {"2019", "2020", "2021"} <= set(xlabels)
    ylabels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "2,000" in ylabels


def test_envelope_keeps_every_extreme_and_bounds_the_points() -> None:
    rng = np.random.default_rng(11)
    series = np.cumsum(rng.normal(size=8313))
    keep = charts.envelope(series, points=600)
    assert len(keep) <= 600
    assert np.all(np.diff(keep) > 0)
    assert keep[0] == 0
    assert keep[-1] == len(series) - 1
    assert series[keep].min() == series.min()
    assert series[keep].max() == series.max()
    # Every bucket's own low survives, so no trough between kept points is lost.
    edges = np.linspace(0, len(series), 151).astype(int)
    for lo, hi in itertools.pairwise(edges.tolist()):
        assert series[keep[(keep >= lo) & (keep < hi)]].min() == series[lo:hi].min()
    short = np.arange(50.0)
    assert charts.envelope(short).tolist() == list(range(50))


def test_a_missing_matplotlib_is_one_line_saying_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(charts.ReportsExtraMissing) as exc:
        charts.new_figure()
    assert (
        str(exc.value) == "charts need the reports extra: pip install 'invest-appliance[reports]'"
    )


def test_the_page_escapes_text_and_refuses_a_chart_that_is_not_svg() -> None:
    page = html.page(
        "a <b> & c",
        "sub",
        [html.section("Notes", html.bullet_list(["<script>alert(1)</script>"]))],
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    cell = html.table("t", ["a", "b"], [["1", "x<y"]], styles=[["", "color: red"]])
    assert '<td style="color: red">x&lt;y</td>' in cell
    with pytest.raises(ValueError, match="inline <svg>"):
        html.chart("x", '<img src="x.png">')


def test_a_report_leaves_matplotlib_s_global_settings_as_it_found_them() -> None:
    """The house style is a context: the alert charts drawn later in the same process
    (the engine draws both) keep their own sizes. A global update broke their snapshot."""
    import matplotlib

    before = dict(matplotlib.rcParams)
    with charts.style():
        assert matplotlib.rcParams["font.size"] == charts.STYLE["font.size"]
        fig = _chart()
    charts.figure_svg(fig)
    charts.figure_png(fig, 400)
    assert dict(matplotlib.rcParams) == before


def test_a_report_file_is_written_whole_and_private(tmp_path) -> None:
    path = html.write_file(tmp_path / "new" / "report.html", "<p>x</p>")
    assert path.read_text() == "<p>x</p>"
    assert path.stat().st_mode & 0o777 == 0o640
    html.write_file(path, b"\x89PNG")  # bytes too; replaces, leaves no temp file behind
    assert path.read_bytes() == b"\x89PNG"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    assert "None." in html.notes_section([])
    assert "survivorship" in html.notes_section(["survivorship"])
