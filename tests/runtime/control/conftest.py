"""Fixtures of the control tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short data folder (Unix socket paths are limited to about 100 bytes)."""
    return tmp_path_factory.mktemp("eng")
