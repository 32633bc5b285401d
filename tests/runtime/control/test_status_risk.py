"""`invest status` (text and --json) and the control ``risk`` op show each account's risk
figures, computed from the ledger's equity curve and marked positions."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.control.api import Request
from invest.runtime.control.service import ControlService
from invest.runtime.control.status import collect_status, format_status
from invest.runtime.ledger import reads
from tests.runtime.risk_ledger_support import build

NOW = datetime(2024, 5, 1, 21, tzinfo=UTC)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("risk") / "ledger.sqlite")


def _by_hand(path: Path) -> tuple[float, float]:
    """alpha's VaR99 and CVaR99 from its ledger curve: sorted returns, k = ceil(80 * 0.01) = 1."""
    conn = reads.connect_readonly(path)
    try:
        eq = [v for _, v in reads.equity_curve(conn, "alpha")]
    finally:
        conn.close()
    worst = sorted(b / a - 1 for a, b in pairwise(eq))
    assert len(worst) == 80
    assert math.isclose(worst[0], -0.04, abs_tol=1e-5)  # cents rounded
    return -worst[0], -worst[0]


def test_status_has_a_risk_line_per_account(ledger: Path) -> None:
    conn = reads.connect_readonly(ledger)
    try:
        data = collect_status(conn, None, now=NOW, wall_now=NOW)
    finally:
        conn.close()
    alpha, beta = data["accounts"]
    var99, cvar99 = _by_hand(ledger)
    assert alpha["risk"]["realised"]["var99"] == pytest.approx(var99, abs=1e-6)
    assert alpha["risk"]["realised"]["cvar99"] == pytest.approx(cvar99, abs=1e-6)
    assert alpha["risk"]["largest"] == {"symbol": "AAA", "weight": 0.3}
    assert alpha["risk"]["max_drawdown"] < alpha["risk"]["drawdown"] <= 0
    text = format_status(data).splitlines()
    risk = [ln for ln in text if ln.startswith("  risk: ")]
    book = [ln for ln in text if ln.startswith("  book: ")]
    assert risk[0].startswith("  risk: realised VaR99 4.00% CVaR99 4.00% (normal ")
    assert risk[0].endswith(", 80 d")
    hhi = (0.3 / 0.35) ** 2 + (0.05 / 0.35) ** 2
    assert book[0].startswith(f"  book: largest AAA 30.0%, top 3 35.0%, HHI {hhi:.3f}; DD ")
    assert risk[1] == "  risk: realised VaR99 n/a (needs 60 sessions, has 12)"
    assert book[1].startswith("  book: no position; DD ")
    assert beta["risk"]["realised"] is None


def test_status_json_carries_the_same_numbers(
    ledger: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ledger.sqlite").write_bytes(ledger.read_bytes())
    monkeypatch.setenv("INVEST_HOME", str(home))
    monkeypatch.setenv("INVEST_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["status", "--json"]) == 0
    shown = {a["account"]: a["risk"] for a in json.loads(capsys.readouterr().out)["accounts"]}
    var99, _ = _by_hand(ledger)
    assert shown["alpha"]["realised"]["var99"] == pytest.approx(var99, abs=1e-6)
    assert shown["beta"]["note"] == "n/a (needs 60 sessions, has 12)"
    assert main(["status"]) == 0
    assert "  risk: realised VaR99 4.00% CVaR99 4.00%" in capsys.readouterr().out


def test_the_risk_op_answers_one_account_or_all(ledger: Path) -> None:
    service = ControlService(ledger)
    every = service.handle(Request("risk"))
    one = service.handle(Request("risk", {"account": "beta"}))
    nope = service.handle(Request("risk", {"account": "nope"}))
    assert every.ok
    assert one.ok
    assert not nope.ok
    assert list(every.data["risk"]) == ["alpha", "beta"]
    assert list(one.data["risk"]) == ["beta"]
    with closing(reads.connect_readonly(ledger)) as conn:
        assert every.data["day"] == reads.latest_equity_day(conn)
    assert every.data["risk"]["beta"]["note"] == "n/a (needs 60 sessions, has 12)"
    assert "no account 'nope'" in nope.error


def test_an_unmeasurable_equity_row_leaves_the_risk_out_not_the_status(
    ledger: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "ledger.sqlite"
    copy.write_bytes(ledger.read_bytes())
    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("UPDATE equity SET equity = 0 WHERE account = 'beta' AND day = '2024-01-03'")
    with closing(reads.connect_readonly(copy)) as conn:
        data = collect_status(conn, None, now=NOW, wall_now=NOW)
    alpha, beta = data["accounts"]
    assert beta["risk"] is None
    assert alpha["risk"] is not None
    text = format_status(data)
    assert text.count("  risk: ") == 1
    assert "beta: ACTIVE; equity 1,000.00" in text
