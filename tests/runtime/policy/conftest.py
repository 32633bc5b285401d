"""Fixtures of the policy tests: a fresh copy of the committed tiny pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.policy.support import copy_fixture_pack


@pytest.fixture
def tiny_pack(tmp_path: Path) -> Path:
    """The committed 3-policy LSTM pack (hidden 8, one layer), copied to a temp dir."""
    return copy_fixture_pack(tmp_path)
