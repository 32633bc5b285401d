"""`invest doctor` checks that read the settings: config values, model packs, broker, LLM."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invest.runtime import health, service
from invest.runtime.config import Settings, parse_config
from invest.runtime.errors import BrokerError
from invest.runtime.layout import Layout
from invest.runtime.policy.pack import bundled_packs_dir
from tests.packaging.support import models_server
from tests.runtime.policy.support import unpromoted_copy

LIVE = {"paper": False, "live": True, "live_confirm": "I understand this trades real money"}


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    for var in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "INVEST_LLM_API_KEY"):
        # setenv records the original state, so what load_settings copies in from a
        # secrets file is undone after the test; delenv then starts it unset.
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return Layout.from_env({"INVEST_PREFIX": str(tmp_path)})


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _settings(account: dict[str, Any], engine: dict[str, Any] | None = None) -> Settings:
    acct = {"universe": ["AAPL", "MSFT", "KO"], **account}
    return parse_config({"engine": engine or {}, "accounts": {"a": acct}})


def test_a_bad_value_fails_the_settings_check_with_its_key_path(layout: Layout) -> None:
    _write(layout.config, "[accounts.a]\nuniverse = ['AAPL']\ncash = -5\n")
    checks = {c.name: c for c in service.doctor(layout, [lambda: health.settings_checks(layout)])}
    assert checks["settings"].status == "FAIL"
    assert "accounts.a.cash" in checks["settings"].detail
    assert "invest config check" in checks["settings"].fix
    assert {checks[n].status for n in ("packs", "broker", "llm")} == {"SKIP"}


def test_the_secrets_file_fills_the_llm_key_as_the_engine_wrapper_does(layout: Layout) -> None:
    _write(
        layout.config,
        "[accounts.a]\nuniverse = ['AAPL']\n[accounts.a.oracle]\nprovider = 'mistral'\n",
    )
    first, settings = health.load_settings(layout)
    assert first.status == "FAIL"  # mistral needs a key, and none is set
    assert "INVEST_LLM_API_KEY" in first.detail
    _write(layout.secrets, "INVEST_LLM_API_KEY=sk-test\n")
    first, settings = health.load_settings(layout)
    assert first.status == "OK", first.line()
    assert settings is not None


def test_packs_are_verified_with_onnxruntime_and_a_tampered_one_fails(layout: Layout) -> None:
    ok = health.check_packs(_settings({"strategy": "hybrid"}), layout.home / "packs")
    assert ok.status == "OK", ok.line()
    assert "every policy opened by onnxruntime" in ok.detail
    assert "not promoted" not in ok.detail  # the bundled pack passed its gate
    packs = layout.home / "packs"
    unpromoted_copy(packs)
    paper = health.check_packs(
        _settings({"strategy": "hybrid", "rl": {"pack": "unpromoted"}}), packs
    )
    assert paper.status == "OK", paper.line()
    assert "pack 'unpromoted' not promoted (paper only)" in paper.detail
    shutil.copytree(bundled_packs_dir() / "default", packs / "mine")
    onnx = next((packs / "mine").glob("*.onnx"))
    onnx.write_bytes(onnx.read_bytes()[:-1] + b"\x00")
    bad = health.check_packs(_settings({"strategy": "rl_ensemble", "rl": {"pack": "mine"}}), packs)
    assert bad.status == "FAIL"
    assert "sha256" in bad.detail
    assert "invest models verify" in bad.fix
    missing = health.check_packs(_settings({"strategy": "hybrid", "rl": {"pack": "nope"}}), packs)
    assert missing.status == "FAIL"
    assert health.check_packs(_settings({}), packs).status == "SKIP"  # trend_king only


def test_a_real_money_account_with_an_unpromoted_pack_fails_the_pack_check(layout: Layout) -> None:
    packs = layout.home / "packs"
    unpromoted_copy(packs)
    live = {"strategy": "hybrid", "broker": "alpaca", "rl": {"pack": "unpromoted"}}
    check = health.check_packs(_settings(live, {"alpaca": LIVE}), packs)
    assert check.status == "FAIL"
    assert "trades real money (the engine refuses it)" in check.detail
    accepted = {**live, "rl": {"pack": "unpromoted", "allow_unpromoted": True}}
    assert health.check_packs(_settings(accepted, {"alpaca": LIVE}), packs).status == "OK"


def test_the_broker_check_asks_alpaca_and_says_what_to_fix(layout: Layout) -> None:
    paper = _settings({})
    assert health.check_broker(paper, layout.secrets).status == "SKIP"
    alpaca = _settings({"broker": "alpaca"})
    # The real probe, without keys: a config error, before any network call.
    no_keys = health.check_broker(alpaca, layout.secrets)
    assert no_keys.status == "FAIL"
    assert "ALPACA_API_KEY" in no_keys.detail
    assert str(layout.secrets) in no_keys.fix

    def down(settings: Settings, name: str, secrets: Path) -> int:
        raise BrokerError("connection refused")

    failed = health.check_broker(alpaca, layout.secrets, probe=down)
    assert failed.status == "FAIL"
    assert failed.detail == "Alpaca paper endpoint for a: connection refused"
    ok = health.check_broker(alpaca, layout.secrets, probe=lambda s, n, p: 3)
    assert ok.line() == "OK   broker   Alpaca paper endpoint answers for a (3 open positions)"


@pytest.fixture
def llm_url() -> Iterator[str]:
    with models_server(["qwen3-8b"]) as url:
        yield url


def test_the_llm_check_asks_each_endpoint_for_its_models(llm_url: str) -> None:
    assert health.check_llm(_settings({})).status == "SKIP"
    ok = health.check_llm(_settings({"oracle": {"base_url": llm_url}}))
    assert ok.status == "OK", ok.line()
    assert f"{llm_url}/v1: ok" in ok.detail
    missing = health.check_llm(_settings({"oracle": {"base_url": llm_url, "model": "other"}}))
    assert missing.status == "FAIL"
    assert "not served: other" in missing.detail
    down = health.check_llm(
        _settings({"oracle": {"base_url": "http://127.0.0.1:9", "connect_timeout_s": 1}})
    )
    assert down.status == "FAIL"
    assert "unreachable" in down.detail
    assert "invest llm check" in down.fix
