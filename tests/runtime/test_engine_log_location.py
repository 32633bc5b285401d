"""One answer to "where is the engine log": the engine, `invest logs` and the TUI agree."""

from __future__ import annotations

import argparse
import io
import logging
from pathlib import Path

import pytest

from invest.runtime import service
from invest.runtime.logs import engine_log_candidates, engine_log_file, setup_logging
from invest.runtime.paths import Paths, example_config
from invest.tui.data.logs import find_log


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A checkout or prefix install: no INVEST_LOG_DIR, a prefix with no service log."""
    monkeypatch.delenv("INVEST_LOG_DIR", raising=False)
    monkeypatch.setenv("INVEST_PREFIX", str(tmp_path / "prefix"))
    return Paths(example_config(), "test", tmp_path / "home", "test")


def _engine_writes(paths: Paths, text: str) -> Path:
    """Log ``text`` the way the engine sets its logging up; the file it wrote."""
    log = engine_log_file(paths.home)
    handlers = setup_logging(log.parent, filename=log.name, stream=io.StringIO(), secrets=[])
    try:
        logging.getLogger("invest.runtime.engine").info(text)
    finally:
        for h in handlers:
            logging.getLogger().removeHandler(h)
            h.close()
    written = list((paths.home / "logs").glob("*.log"))
    assert written == [log]
    return log


def test_the_engine_log_of_a_checkout_is_in_home_logs(checkout: Paths) -> None:
    # What tests/runtime/engine/test_process.py sees a real engine write.
    assert engine_log_file(checkout.home) == checkout.home / "logs" / "invest-engine.log"
    assert engine_log_candidates(checkout.home)[0] == engine_log_file(checkout.home)


def test_the_log_screen_follows_the_file_the_engine_writes(checkout: Paths) -> None:
    log = _engine_writes(checkout, "cycle done")
    assert find_log(checkout) == log


def test_the_log_screen_waits_for_the_engine_s_own_file(checkout: Paths) -> None:
    assert find_log(checkout) == checkout.home / "logs" / "invest-engine.log"


def test_invest_logs_prints_the_engine_log_of_a_checkout(
    checkout: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    _engine_writes(checkout, "cycle done")
    args = argparse.Namespace(lines=5, follow=False)
    assert service._cmd_logs(args, checkout) == 0
    assert "cycle done" in capsys.readouterr().out


def test_invest_logs_falls_back_to_the_service_managers_capture(
    checkout: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "prefix" / "var/log/invest/engine.log"
    capture.parent.mkdir(parents=True)
    capture.write_text("Traceback (most recent call last):\n")
    assert service._cmd_logs(argparse.Namespace(lines=5, follow=False), checkout) == 0
    assert "Traceback" in capsys.readouterr().out


def test_invest_logs_without_a_log_says_where_it_looked(
    checkout: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert service._cmd_logs(argparse.Namespace(lines=5, follow=False), checkout) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert str(checkout.home / "logs" / "invest-engine.log") in err
    assert str(tmp_path / "prefix" / "var/log/invest/engine.log") in err
    assert "invest engine" in err
