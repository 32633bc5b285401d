"""A child ``invest`` process under an injected storage fault (run by the fault tests).

    python child.py fsize LIMIT ARGS...   writes past LIMIT bytes fail with EFBIG (a full disk)
    python child.py readonly ARGS...      the home is read-only for this process
    python child.py plain ARGS...         no fault (the test injects one from outside)

ARGS are ``invest`` arguments, or ``doctor-checks``: print the doctor's home, ledger
and disk checks, one ``STATUS name: detail | fix`` line each.

Root ignores file modes, so "read-only" warms the imports with one real run on a
scratch copy of the home, then drops to uid 65534, which may read the home but not
write it. A full disk is simulated with RLIMIT_FSIZE (SIGXFSZ ignored), taken after
the ledger's ``-shm`` exists, so the failure hits the cycle's own writes.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

from invest.runtime import service
from invest.runtime.cli import main as invest_main


def main(args: list[str]) -> int:
    """``invest ARGS``, or the storage checks of ``invest doctor``."""
    if args != ["doctor-checks"]:
        return invest_main(args)
    layout = service.Layout.from_env()
    for check in (service.check_home, service.check_ledger, service.check_disk):
        c = check(layout)
        print(f"{c.status} {c.name}: {c.detail} | {c.fix}")
    return 0


def _readonly(args: list[str]) -> int:
    home = Path(os.environ["INVEST_HOME"])
    if os.geteuid() != 0:
        home.chmod(0o555)
        return main(args)
    scratch = Path(tempfile.mkdtemp())
    shutil.copy(home / "ledger.sqlite", scratch / "ledger.sqlite")
    os.environ["INVEST_HOME"] = str(scratch)
    main(args)  # loads every module the real run needs while the stdlib is still readable
    os.environ["INVEST_HOME"] = str(home)
    # The ledger is 0640 (its owner's group reads it). On a read-only mount the service
    # user still reads its own files; the stand-in uid gets that by a world read bit.
    for f in home.glob("ledger.sqlite*"):
        f.chmod(0o644)
    os.setgid(65534)
    os.setuid(65534)
    return main(args)


def _fsize(limit: int, args: list[str]) -> int:
    ledger = Path(os.environ["INVEST_HOME"]) / "ledger.sqlite"
    keep = sqlite3.connect(ledger)  # creates -wal and -shm below the limit
    keep.execute("SELECT count(*) FROM orders").fetchone()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return main(args)


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "fsize":
        sys.exit(_fsize(int(rest[0]), rest[1:]))
    if mode == "readonly":
        sys.exit(_readonly(rest))
    sys.exit(main(rest))
