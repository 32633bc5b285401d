"""Shared test setup: every test gets its own INVEST_HOME and no system config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("invest-home")
    monkeypatch.setenv("INVEST_HOME", str(home))
    monkeypatch.delenv("INVEST_CONFIG", raising=False)
    return home
