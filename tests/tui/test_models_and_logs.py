"""The models screen (packs, manifests, verification) and the logs screen (tail, filters)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, RichLog, Select, Static

from invest.tui.data.logs import LogLine, LogTail, parse

from .conftest import settle

pytestmark = pytest.mark.anyio
TINY = Path(__file__).parents[1] / "fixtures" / "packs" / "tiny"


async def _models(app, pilot):
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)
    return app.screen


async def test_installed_and_bundled_packs_are_listed_with_their_walk_forward_table(
    make_app, paths
) -> None:
    shutil.copytree(TINY, paths.packs / "tiny")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _models(app, pilot)
        packs = screen.query_one("#packs", DataTable)
        rows = {str(packs.get_row(k)[0]): [str(c) for c in packs.get_row(k)] for k in packs.rows}
        assert rows["tiny"][1:3] == ["installed", "3"]
        assert rows["tiny"][5] == "ok"
        assert rows["default"][1] == "bundled"
        packs.move_cursor(row=[str(packs.get_row_at(i)[0]) for i in range(2)].index("tiny"))
        await pilot.pause()
        summary = str(screen.query_one("#pack-summary", Static).content)
        assert "feature spec 1" in summary
        assert "promotion: passed (test pack)" in summary
        wf = screen.query_one("#walk-forward", DataTable)
        assert [str(c.label) for c in wf.columns.values()][:3] == [
            "year",
            "trend_king",
            "rl_ensemble",
        ]
        assert [str(c) for c in wf.get_row_at(0)][:2] == ["2021", "0.1000"]
        await pilot.press("v")
        await settle(pilot)
        status = [str(packs.get_row_at(i)[5]) for i in range(packs.row_count)]
        assert "ok, ONNX verified" in status


async def test_a_tampered_pack_is_refused_with_its_reason(make_app, paths) -> None:
    shutil.copytree(TINY, paths.packs / "tiny")
    policy = paths.packs / "tiny" / "policy-0.onnx"
    policy.write_bytes(policy.read_bytes() + b"x")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _models(app, pilot)
        packs = screen.query_one("#packs", DataTable)
        tiny = next(k for k in packs.rows if str(packs.get_row(k)[0]) == "tiny")
        assert str(packs.get_row(tiny)[5]) == "REFUSED"
        packs.move_cursor(row=packs.get_row_index(tiny))
        await pilot.pause()
        assert "policy-0.onnx" in str(screen.query_one("#pack-summary", Static).content)


LOG = """\
2022-12-29 16:30:01,123 INFO invest.engine: heartbeat
2022-12-29 16:30:02,000 WARNING invest.cycle: trend-daily: SP500 data stale
2022-12-29 16:30:03,000 ERROR invest.broker: defensive-weekly: order rejected
Traceback (most recent call last):
  File "engine.py", line 1
2022-12-29 16:30:04,000 DEBUG invest.engine: tick
"""


def _shown(log: RichLog) -> list[str]:
    return [line.text.rstrip() for line in log.lines]


async def test_the_log_is_tailed_and_filtered_by_level_and_account(make_app, tmp_path) -> None:
    path = tmp_path / "engine.log"
    path.write_text(LOG)
    app = make_app(log_path=path)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        log = screen.query_one("#log", RichLog)
        assert len(_shown(log)) == 6
        screen.query_one("#log-level", Select).value = "WARNING"
        await pilot.pause()
        assert [s.split(" ")[2] for s in _shown(log)[:2]] == ["WARNING", "ERROR"]
        assert len(_shown(log)) == 4  # the traceback goes with its ERROR record
        screen.query_one("#log-account", Input).value = "defensive"
        await pilot.pause()
        assert _shown(log) == [LOG.splitlines()[2]]


async def test_the_log_follows_new_lines_when_live(make_app, tmp_path) -> None:
    path = tmp_path / "engine.log"
    path.write_text(LOG)
    app = make_app(log_path=path, live=True, refresh_s=60)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("l")
        await pilot.pause(0.3)
        with path.open("a") as fh:
            fh.write("2022-12-29 16:31:00,000 INFO invest.engine: cycle trend-daily done\n")
        log = app.screen.query_one("#log", RichLog)
        for _ in range(40):
            await pilot.pause(0.05)
            if any("cycle trend-daily done" in s for s in _shown(log)):
                break
        assert _shown(log)[-1].endswith("cycle trend-daily done")


def test_the_tail_starts_near_the_end_and_survives_rotation(tmp_path) -> None:
    path = tmp_path / "engine.log"
    path.write_text("".join(f"2022-01-01 00:00:00 INFO x: line {i}\n" for i in range(50)))
    tail = LogTail(path, backlog=10)
    lines, reset = tail.poll()
    assert [ln.text.rsplit(" ", 1)[1] for ln in lines] == [str(i) for i in range(40, 50)]
    assert not reset
    with path.open("a") as fh:
        fh.write("2022-01-01 00:00:01 ERROR x: half")
    assert tail.poll() == ([], False)  # an incomplete line waits for its newline
    with path.open("a") as fh:
        fh.write(" a line\n")
    lines, _ = tail.poll()
    assert lines == [LogLine("2022-01-01 00:00:01 ERROR x: half a line", "ERROR")]
    path.rename(tmp_path / "engine.log.1")
    path.write_text("2022-01-02 00:00:00 INFO x: fresh\n")
    lines, reset = tail.poll()
    assert reset
    assert [ln.text for ln in lines] == ["2022-01-02 00:00:00 INFO x: fresh"]


def test_continuation_lines_inherit_the_level_of_their_record() -> None:
    lines = parse(LOG.splitlines())
    assert [ln.level for ln in lines] == ["INFO", "WARNING", "ERROR", "ERROR", "ERROR", "DEBUG"]
    assert not lines[0].matches("WARNING", None)
    assert lines[3].matches("ERROR", None)
