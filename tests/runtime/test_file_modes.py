"""Finding 11: the ledger, its WAL and the bar cache are created 0640 whatever the umask.

On main they came out 0644 under the usual umask 022: every local user could read
each account's positions, orders and equity.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.data.cache import BarCache
from invest.runtime.ledger import Ledger
from invest.runtime.paths import PRIVATE_MODE, private_file


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o002)  # the loosest common umask: group write, world read
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.usefixtures("loose_umask")
def test_a_new_ledger_and_its_sidecars_are_0640(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.event(None, "probe", {})  # a write: the -wal and -shm exist now
    try:
        files = sorted(tmp_path.glob("ledger.sqlite*"))
        assert [f.name for f in files] == [
            "ledger.sqlite",
            "ledger.sqlite-shm",
            "ledger.sqlite-wal",
        ]
        assert {f.name: _mode(f) for f in files} == {f.name: PRIVATE_MODE for f in files}
    finally:
        ledger.close()


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_world_readable_ledger_is_tightened_when_opened(tmp_path: Path) -> None:
    Ledger(tmp_path / "ledger.sqlite").close()
    (tmp_path / "ledger.sqlite").chmod(0o666)
    Ledger(tmp_path / "ledger.sqlite").close()
    assert _mode(tmp_path / "ledger.sqlite") == PRIVATE_MODE


@pytest.mark.usefixtures("loose_umask")
def test_the_bar_cache_is_0640(tmp_path: Path) -> None:
    BarCache(tmp_path / "cache" / "bars.sqlite")
    assert _mode(tmp_path / "cache" / "bars.sqlite") == PRIVATE_MODE


def test_a_tighter_mode_is_kept(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch(mode=0o600)
    f.chmod(0o600)
    private_file(f)
    assert _mode(f) == 0o600
