"""Log files are 0640 whatever the umask (issue 11, finding 11): they name accounts and positions."""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from invest.runtime.logs import setup_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("restore_root")
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_the_log_file_and_its_rollovers_are_0640(tmp_path: Path, umask: int) -> None:
    stale = tmp_path / "invest-engine.log"
    stale.write_text("old\n")
    stale.chmod(0o644)  # a file left by an older version keeps no wider mode
    old = os.umask(umask)
    try:
        setup_logging(tmp_path, stream=io.StringIO(), max_bytes=200, backups=2)
        log = logging.getLogger("invest.test.mode")
        for i in range(20):
            log.info("cycle %d: bought 10 AAPL for account main", i)
    finally:
        os.umask(old)
    files = sorted(tmp_path.glob("invest-engine.log*"))
    assert [f.name for f in files] == [
        "invest-engine.log",
        "invest-engine.log.1",
        "invest-engine.log.2",
    ]
    assert {f.name: oct(_mode(f)) for f in files} == {f.name: "0o640" for f in files}
