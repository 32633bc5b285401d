"""``invest setup``: the guided first run, against loopback fakes of Alpaca, Telegram and an LLM.

Every service is a local server on 127.0.0.1: the real adapter code (alpaca-py's
clients, httpx, the oracle's probes) talks to it. The written config must pass
``load_config`` and ``invest doctor``.
"""

from __future__ import annotations

import argparse
import socket
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from invest.runtime import cli, health, service
from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.config import Settings, load_config
from invest.runtime.config.alpaca import AlpacaConfig
from invest.runtime.errors import ConfigError
from invest.runtime.layout import Layout
from invest.runtime.paths import Paths
from invest.runtime.secrets import read_secrets_file
from invest.runtime.setup import Endpoints, run_setup
from tests.runtime.brokers.support import FakeAlpaca, JsonHandler, loopback, serve
from tests.runtime.oracle.support import FakeLLMServer, completion

FIXTURES = Path(__file__).parents[1] / "fixtures"
TOKEN = "7000000001:AAtest-token-never-shown"  # noqa: S105 - a fake token
KEY, SECRET = "PKSETUPKEY00000000", "setup-s3cr3t-never-shown"
#: The fixture's bars end on 2024-01-04: the data probe asks for the 10 days to this one.
TODAY = date(2024, 1, 5)


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    """The Trading API (positions) and the data API (bars) on one loopback server."""
    with serve() as fake:
        fake.on("GET", "/v2/positions", (200, "positions.json"))
        fake.on(
            "GET", "/v2/stocks/bars", (200, (FIXTURES / "alpaca/bars_aapl_msft.json").read_text())
        )
        yield fake


@pytest.fixture
def telegram() -> Iterator[str]:
    """The Bot API: getMe answers the recorded bot for TOKEN, 401 for any other token."""
    me = (FIXTURES / "telegram/get_me.json").read_text()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == f"/bot{TOKEN}/getMe":
                import json

                self._reply(200, json.loads(me))
            else:
                self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})

    with loopback(Handler) as url:
        yield url


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    server.respond = lambda body: completion('{"ok": true}', model="main")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key of this machine leaks in; what doctor copies in from the secrets file is undone."""
    for var in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "INVEST_LLM_API_KEY"):
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    for var in ("INVEST_CONFIG", "INVEST_PREFIX"):
        monkeypatch.delenv(var, raising=False)


def _args(**flags: Any) -> argparse.Namespace:
    """The namespace `invest setup` parses, with ``flags`` given."""
    ns = cli.build_parser().parse_args(["setup"])
    for k, v in flags.items():
        setattr(ns, k, v)
    return ns


def _paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "etc/config.toml", "--config", tmp_path / "home", "INVEST_HOME")


def _env(tmp_path: Path, alpaca: FakeAlpaca, telegram: str, **extra: str) -> dict[str, str]:
    return {
        "INVEST_SECRETS": str(tmp_path / "etc/secrets.env"),
        "INVEST_SETUP_ALPACA_URL": alpaca.url,
        "INVEST_SETUP_ALPACA_DATA_URL": alpaca.url,
        "INVEST_SETUP_TELEGRAM_API": telegram,
        **extra,
    }


def _endpoints(env: dict[str, str]) -> Endpoints:
    base = Endpoints.from_env(env)
    return Endpoints(base.alpaca_trading, base.alpaca_data, base.telegram, today=TODAY)


def _fake_broker(url: str) -> health.BrokerProbe:
    """doctor's broker probe, pointed at the fake with the keys of the secrets file."""

    def probe(settings: Settings, name: str, secrets: Path) -> int:
        keys = read_secrets_file(secrets)
        broker = AlpacaBroker(
            AlpacaConfig(retries=0),
            keys["ALPACA_API_KEY"],
            keys["ALPACA_SECRET_KEY"],
            account=name,
            url_override=url,
        )
        try:
            return len(broker.positions())
        finally:
            broker.close()

    return probe


def test_non_interactive_probes_every_service_and_writes_a_config_doctor_accepts(
    tmp_path: Path,
    alpaca: FakeAlpaca,
    telegram: str,
    llm: FakeLLMServer,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = _env(
        tmp_path,
        alpaca,
        telegram,
        INVEST_SETUP_ALPACA_KEY=KEY,
        INVEST_SETUP_ALPACA_SECRET=SECRET,
        INVEST_SETUP_TELEGRAM_TOKEN=TOKEN,
        INVEST_SETUP_TELEGRAM_CHAT="123456",
        INVEST_SETUP_LLM_KEY="sk-setup-llm",
    )
    args = _args(
        non_interactive=True,
        template="gated",
        data="alpaca",
        broker="alpaca",
        llm_url=llm.url,
        llm_model="main",
    )
    assert run_setup(args, _paths(tmp_path), env, endpoints=_endpoints(env)) == 0
    out = capsys.readouterr().out
    for name in ("alpaca", "data", "telegram", "llm"):
        assert f"OK   {name}:" in out, out
    assert "@invest_appliance_bot" in out
    for secret in (KEY, SECRET, TOKEN, "sk-setup-llm"):
        assert secret not in out
    # Each probe reached its fake with the keys it was given.
    assert [s.key_header for s in alpaca.calls("GET", "/v2/positions")] == [KEY]
    assert alpaca.calls("GET", "/v2/stocks/bars")
    assert llm.chat_requests, "the LLM probe asks a completion, as `invest llm check` does"

    config, secrets = tmp_path / "etc/config.toml", tmp_path / "etc/secrets.env"
    text = config.read_text()
    for secret in (KEY, SECRET, TOKEN, "sk-setup-llm"):
        assert secret not in text
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert read_secrets_file(secrets) == {
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "INVEST_LLM_API_KEY": "sk-setup-llm",
    }
    settings = load_config(config)
    assert settings.engine.data == "alpaca"
    assert settings.engine.alpaca.paper
    assert settings.engine.telegram.enabled
    assert settings.engine.telegram.chats[0].user_ids == (123456,)
    ((name, acct),) = settings.accounts.items()
    assert (name, acct.broker, acct.strategy) == ("gated-daily", "alpaca", "trend_king")
    assert acct.oracle is not None
    assert acct.oracle.api_base == llm.url

    layout = Layout.from_env(
        {"INVEST_SECRETS": str(secrets)}, config=config, home=tmp_path / "home"
    )
    checks = service.doctor(
        layout,
        [
            lambda: service.check_config(layout),
            lambda: service.check_secrets(layout),
            lambda: health.settings_checks(layout)[
                :3
            ],  # settings, packs, broker (the real endpoint)
            lambda: health.check_broker(settings, layout.secrets, _fake_broker(alpaca.url)),
            lambda: health.check_llm(
                load_config(config)
            ),  # the key from the secrets file, now in env
        ],
    )
    by_name = {c.name: c for c in checks}
    for name in ("config", "secrets", "settings", "llm"):
        assert by_name[name].status == "OK", by_name[name].line()
    assert checks[-2].status == "OK", checks[-2].line()  # the broker, asked at the fake


@pytest.mark.parametrize("template", ["trend", "hybrid"])
def test_a_paper_setup_passes_config_check_and_the_doctor_command(
    tmp_path: Path,
    alpaca: FakeAlpaca,
    telegram: str,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    template: str,
) -> None:
    env = _env(
        tmp_path,
        alpaca,
        telegram,
        INVEST_SETUP_TELEGRAM_TOKEN=TOKEN,
        INVEST_SETUP_TELEGRAM_CHAT="42",
    )
    args = _args(non_interactive=True, template=template, data="sample")
    assert run_setup(args, _paths(tmp_path), env, endpoints=_endpoints(env)) == 0
    config = tmp_path / "etc/config.toml"
    monkeypatch.setenv("INVEST_SECRETS", env["INVEST_SECRETS"])
    monkeypatch.setenv("INVEST_HOME", str(tmp_path / "home"))
    capsys.readouterr()
    assert cli.main(["config", "check", str(config)]) == 0
    code = cli.main(["doctor", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out, out


def test_a_failing_probe_is_reported_and_nothing_is_written(
    tmp_path: Path,
    alpaca: FakeAlpaca,
    telegram: str,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = _env(
        tmp_path,
        alpaca,
        telegram,
        INVEST_SETUP_TELEGRAM_TOKEN="123:wrong",  # noqa: S106 - a fake token
        INVEST_SETUP_TELEGRAM_CHAT="42",
    )
    args = _args(non_interactive=True, data="sample")
    assert run_setup(args, _paths(tmp_path), env, endpoints=_endpoints(env)) == 1
    captured = capsys.readouterr()
    assert "FAIL telegram: the Bot API refused the token (401 Unauthorized)" in captured.out
    assert "@BotFather" in captured.out
    assert "123:wrong" not in captured.out + captured.err
    assert "nothing written" in captured.err
    assert not (tmp_path / "etc").exists()
    # --force writes anyway; --skip-checks asks nothing.
    assert (
        run_setup(_args(non_interactive=True, data="sample", force=True), _paths(tmp_path), env)
        == 0
    )
    assert load_config(tmp_path / "etc/config.toml").engine.telegram.enabled


def test_an_unreachable_llm_fails_the_run(
    tmp_path: Path,
    alpaca: FakeAlpaca,
    telegram: str,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:  # a port that was free: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(tmp_path, alpaca, telegram)
    args = _args(
        non_interactive=True, data="sample", template="gated", llm_url=f"http://127.0.0.1:{port}/v1"
    )
    assert run_setup(args, _paths(tmp_path), env) == 1
    assert "FAIL llm:" in capsys.readouterr().out
    assert not (tmp_path / "etc").exists()


def test_missing_answers_are_named_with_the_variable_to_set(
    tmp_path: Path, clean_env: None
) -> None:
    with pytest.raises(ConfigError, match="INVEST_SETUP_ALPACA_KEY and INVEST_SETUP_ALPACA_SECRET"):
        run_setup(_args(non_interactive=True, broker="alpaca"), _paths(tmp_path), {})
    with pytest.raises(ConfigError, match="template 'gated' needs an LLM endpoint"):
        run_setup(_args(non_interactive=True, template="gated"), _paths(tmp_path), {})
    with pytest.raises(ConfigError, match="data source 'bogus' is unknown"):
        run_setup(_args(non_interactive=True), _paths(tmp_path), {"INVEST_SETUP_DATA": "bogus"})
    assert not (tmp_path / "etc").exists()


def test_without_a_terminal_it_refuses_and_names_non_interactive(
    tmp_path: Path, clean_env: None
) -> None:
    with pytest.raises(ConfigError, match=r"needs a terminal.*--non-interactive"):
        run_setup(_args(), _paths(tmp_path), {}, tty=False)


def test_the_interactive_path_asks_one_question_per_line_and_keeps_secrets_unechoed(
    tmp_path: Path,
    alpaca: FakeAlpaca,
    telegram: str,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secrets = tmp_path / "etc/secrets.env"
    secrets.parent.mkdir(parents=True)
    secrets.write_text("DISCORD_WEBHOOK_URL=https://discord.example/keep\nALPACA_API_KEY=old\n")
    secrets.chmod(0o600)
    (tmp_path / "etc/config.toml").write_text("# the installer's copy\n")
    answers = iter(["hybrid", "alpaca", "", "4242"])  # template, data, broker (default), chat id
    keys = iter([KEY, SECRET, TOKEN])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    def secret(question: str) -> str:
        asked.append(question)
        return next(keys)

    env = _env(tmp_path, alpaca, telegram)
    assert (
        run_setup(
            _args(),
            _paths(tmp_path),
            env,
            ask=ask,
            secret=secret,
            tty=True,
            endpoints=_endpoints(env),
        )
        == 0
    )
    assert asked[0].startswith("Accounts template (trend | hybrid | gated) [trend]")
    assert any(q.startswith("Alpaca paper API key id [set; Enter keeps it]") for q in asked)
    assert all("\n" not in q for q in asked)
    settings = load_config(tmp_path / "etc/config.toml")
    assert set(settings.accounts) == {"trend-daily", "hybrid-daily"}
    assert settings.engine.data == "alpaca"
    values = read_secrets_file(secrets)
    assert values["ALPACA_API_KEY"] == KEY  # replaced
    assert values["DISCORD_WEBHOOK_URL"] == "https://discord.example/keep"  # kept
    assert (tmp_path / "etc/config.toml.bak").read_text() == "# the installer's copy\n"
    assert KEY not in capsys.readouterr().out
