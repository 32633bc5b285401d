"""``invest setup``: a guided first run that writes the config and the secrets file.

Three plain steps, each a function the tests call: :func:`gather` (flags, then
``INVEST_SETUP_*`` variables, then defaults), :func:`probe` (each service asked
live with the code that will use it: the Alpaca adapter's positions, one bar of
the data source, Telegram's ``getMe``, ``invest llm check``'s two probes) and
:func:`write` (the config from an account template, validated before it is
written, and the keys merged into the secrets file, mode 0600). :func:`interactive`
is the thin front: one question per line with its default, keys read without echo.

A failed probe says what failed and what to fix; then nothing is written unless
``--force`` (or ``--skip-checks``, which asks nothing). Keys never reach the config
file, the command line of another process or the output.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from invest.runtime.config import load_config, parse_config
from invest.runtime.errors import ConfigError, InvestError
from invest.runtime.paths import Paths, private_file, resolve_secrets
from invest.runtime.secrets import read_secrets_file

__all__ = [
    "ENV",
    "TEMPLATES",
    "Answers",
    "Endpoints",
    "Probe",
    "gather",
    "interactive",
    "main",
    "probe",
    "render_config",
    "run_setup",
    "write",
]

#: The universe of the templates: the bundled sample's 20 large caps.
UNIVERSE = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip
#: Account templates, by name: what each writes.
TEMPLATES = {
    "trend": "trend_king, daily after the close (account trend-daily)",
    "hybrid": "trend_king plus the bundled RL pack as a confirming vote (accounts trend-daily, hybrid-daily)",
    "gated": "trend_king with the LLM gate reviewing every buy (account gated-daily; needs an LLM endpoint)",
}
DATA_SOURCES = ("yfinance", "alpaca", "sample")
BROKERS = ("paper", "alpaca")
#: The variables ``--non-interactive`` reads, by answer field (a flag wins over its variable).
ENV = {
    "data": "INVEST_SETUP_DATA",
    "template": "INVEST_SETUP_TEMPLATE",
    "broker": "INVEST_SETUP_BROKER",
    "cash": "INVEST_SETUP_CASH",
    "alpaca_key": "INVEST_SETUP_ALPACA_KEY",
    "alpaca_secret": "INVEST_SETUP_ALPACA_SECRET",
    "telegram_token": "INVEST_SETUP_TELEGRAM_TOKEN",
    "telegram_chat": "INVEST_SETUP_TELEGRAM_CHAT",
    "llm_url": "INVEST_SETUP_LLM_URL",
    "llm_model": "INVEST_SETUP_LLM_MODEL",
    "llm_key": "INVEST_SETUP_LLM_KEY",
}
#: Answers that are secrets: read from the environment or without echo, never from flags.
SECRET_FIELDS = {
    "alpaca_key": "ALPACA_API_KEY",
    "alpaca_secret": "ALPACA_SECRET_KEY",
    "telegram_token": "TELEGRAM_BOT_TOKEN",
    "llm_key": "INVEST_LLM_API_KEY",
}
PROBE_SYMBOL = "AAPL"


@dataclass(frozen=True)
class Answers:
    """What the first run decides. Empty strings are "not given"."""

    data: str = "yfinance"
    template: str = "trend"
    broker: str = "paper"
    cash: float = 10_000.0
    alpaca_key: str = field(default="", repr=False)
    alpaca_secret: str = field(default="", repr=False)
    telegram_token: str = field(default="", repr=False)
    telegram_chat: str = ""
    llm_url: str = ""
    llm_model: str = "qwen3-8b"
    llm_key: str = field(default="", repr=False)

    def problems(self) -> list[str]:
        """What is missing or contradictory, each with what to give."""
        out: list[str] = []
        if self.data not in DATA_SOURCES:
            out.append(
                f"data source {self.data!r} is unknown; use one of: {', '.join(DATA_SOURCES)}"
            )
        if self.template not in TEMPLATES:
            out.append(f"template {self.template!r} is unknown; use one of: {', '.join(TEMPLATES)}")
        if self.broker not in BROKERS:
            out.append(f"broker {self.broker!r} is unknown; use one of: {', '.join(BROKERS)}")
        if self.cash <= 0:
            out.append(f"cash must be above 0, not {self.cash:g}")
        if self.needs_alpaca and not (self.alpaca_key and self.alpaca_secret):
            out.append(
                "Alpaca (as broker or data source) needs the paper keys: set "
                f"{ENV['alpaca_key']} and {ENV['alpaca_secret']}"
            )
        if self.telegram_token and not self.telegram_chat.lstrip("-").isdigit():
            out.append(
                "Telegram needs the chat id to serve (a number; your user id for a private "
                f"chat): --telegram-chat or {ENV['telegram_chat']}"
            )
        if self.telegram_chat and not self.telegram_token:
            out.append(f"a Telegram chat needs the bot token: set {ENV['telegram_token']}")
        if self.template == "gated" and not self.llm_url:
            out.append(f"template 'gated' needs an LLM endpoint: --llm-url or {ENV['llm_url']}")
        if self.llm_url and self.template != "gated":
            out.append(
                "only the 'gated' template uses an LLM endpoint: add --template gated or drop --llm-url"
            )
        return out

    @property
    def needs_alpaca(self) -> bool:
        """Whether the Alpaca keys are used (broker or data)."""
        return self.broker == "alpaca" or self.data == "alpaca"


@dataclass(frozen=True)
class Endpoints:
    """Where the probes go; None is the service's public address (tests point them at fakes)."""

    alpaca_trading: str | None = None
    """INVEST_SETUP_ALPACA_URL: the Trading API instead of paper-api.alpaca.markets."""
    alpaca_data: str | None = None
    """INVEST_SETUP_ALPACA_DATA_URL: the market data API instead of data.alpaca.markets."""
    telegram: str = "https://api.telegram.org"
    """INVEST_SETUP_TELEGRAM_API: the Bot API root."""
    today: date | None = None
    """The day whose last bars the data probe asks for (None: today)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoints:
        """Read the INVEST_SETUP_*_URL overrides (proxies and tests)."""
        return cls(
            alpaca_trading=env.get("INVEST_SETUP_ALPACA_URL") or None,
            alpaca_data=env.get("INVEST_SETUP_ALPACA_DATA_URL") or None,
            telegram=env.get("INVEST_SETUP_TELEGRAM_API") or cls.telegram,
        )


@dataclass(frozen=True)
class Probe:
    """One live check: what was asked, whether it answered, what to fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``OK   name: detail`` or ``FAIL name: detail (fix: ...)``."""
        fix = f" (fix: {self.fix})" if self.fix and not self.ok else ""
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}{fix}"


# ------------------------------------------------------------------------------ gather


def gather(args: argparse.Namespace, env: Mapping[str, str]) -> Answers:
    """The answers from the flags, then the ``INVEST_SETUP_*`` variables, then the defaults.

    Raises:
        ConfigError: the cash is not a number.
    """
    base = Answers()
    values: dict[str, Any] = {}
    for name, var in ENV.items():
        flag = getattr(args, name, None) if name not in SECRET_FIELDS else None
        value = flag if flag not in (None, "") else env.get(var, "")
        if value not in (None, ""):
            values[name] = str(value).strip()
    if "cash" in values:
        try:
            values["cash"] = float(values["cash"])
        except ValueError:
            raise ConfigError(f"cash must be a number, not {values['cash']!r}") from None
    for name in ("data", "template", "broker"):
        if name in values:
            values[name] = values[name].lower()
    return replace(base, **values)


# ------------------------------------------------------------------------------ probes


def probe_alpaca(answers: Answers, endpoints: Endpoints) -> Probe:
    """Ask the Alpaca paper endpoint for the positions, through the broker adapter."""
    from invest.runtime.adapters.alpaca.broker import AlpacaBroker
    from invest.runtime.config.alpaca import AlpacaConfig

    try:
        broker = AlpacaBroker(
            AlpacaConfig(retries=0, read_timeout_s=10.0),
            answers.alpaca_key,
            answers.alpaca_secret,
            account="setup",
            url_override=endpoints.alpaca_trading,
        )
        try:
            held = broker.positions()
        finally:
            broker.close()
    except InvestError as e:
        return Probe(
            "alpaca",
            False,
            f"the paper endpoint did not answer the positions: {e}",
            "copy the paper key id and secret again from the Alpaca dashboard (Paper account)",
        )
    return Probe("alpaca", True, f"paper account answers ({len(held)} open positions)")


def probe_data(answers: Answers, endpoints: Endpoints) -> Probe:
    """Load the last bars of one symbol from the data source."""
    from invest.runtime.clock import today_in_new_york
    from invest.runtime.data import open_source

    options: dict[str, Any] = {}
    if answers.data == "alpaca":
        options = {
            "api_key": answers.alpaca_key,
            "secret_key": answers.alpaca_secret,
            "url_override": endpoints.alpaca_data,
            "retry_attempts": 0,
        }
    today = endpoints.today or today_in_new_york()
    try:
        source = open_source(answers.data, **options)
        frame = source.load([PROBE_SYMBOL], start=today - timedelta(days=10), end=today)
        close = getattr(source, "close", None)
        if callable(close):
            close()
    except InvestError as e:
        return Probe(
            "data",
            False,
            f"{answers.data} gave no bar of {PROBE_SYMBOL}: {e}",
            "check the network (and the Alpaca keys for the alpaca source), or pick another source",
        )
    if len(frame.dates) == 0:
        return Probe(
            "data",
            False,
            f"{answers.data} gave no bar of {PROBE_SYMBOL} in the 10 days to {today}",
            "check the network, or pick another source",
        )
    return Probe("data", True, f"{answers.data}: {PROBE_SYMBOL} bar of {frame.dates[-1]}")


def probe_telegram(answers: Answers, endpoints: Endpoints) -> Probe:
    """Ask the Bot API who the bot is (``getMe``); the token is never printed."""
    import httpx

    url = f"{endpoints.telegram.rstrip('/')}/bot{answers.telegram_token}/getMe"
    fix = "copy the token again from @BotFather (/mybots, API Token)"
    try:
        resp = httpx.get(url, timeout=10.0)
        body = resp.json()
    except httpx.HTTPError as e:
        # The exception's text holds the URL, and so the token: name its kind only.
        return Probe(
            "telegram",
            False,
            f"the Bot API is unreachable ({type(e).__name__})",
            "check the network",
        )
    except ValueError:
        return Probe(
            "telegram", False, f"the Bot API answered {resp.status_code} without JSON", fix
        )
    if resp.status_code != 200 or not isinstance(body, dict) or not body.get("ok"):
        what = body.get("description") if isinstance(body, dict) else None
        return Probe(
            "telegram",
            False,
            f"the Bot API refused the token ({resp.status_code} {what or ''})".rstrip(),
            fix,
        )
    name = (body.get("result") or {}).get("username", "?")
    return Probe(
        "telegram", True, f"bot @{name} answers; it will serve chat {answers.telegram_chat}"
    )


def _oracle(answers: Answers) -> Any:
    from invest.runtime.config.oracle import OracleConfig

    return OracleConfig(
        base_url=answers.llm_url,
        model=answers.llm_model,
        api_key=answers.llm_key or None,
        max_retries=0,
    )


def probe_llm(answers: Answers, endpoints: Endpoints) -> Probe:
    """``invest llm check``: ``GET /models``, then a one-token completion of the model."""
    from pydantic import ValidationError

    from invest.runtime.oracle.client.http import probe_chat, probe_endpoint

    fix = "check the URL, that the server runs and serves the model, and the key"
    try:
        cfg = _oracle(answers)
    except ValidationError as e:
        first = e.errors()[0]
        return Probe("llm", False, f"{answers.llm_url}: {first['msg']}", "give an http(s) URL")
    health = probe_endpoint(cfg)
    if not health.ok:
        return Probe("llm", False, f"{cfg.api_base}: {health.detail}", fix)
    failed = [p for p in probe_chat(cfg) if not p.ok]
    if failed:
        return Probe("llm", False, f"{cfg.api_base}: {failed[0].model}: {failed[0].detail}", fix)
    return Probe("llm", True, f"{cfg.api_base}: {cfg.model} answers a completion")


def probe(answers: Answers, endpoints: Endpoints) -> list[Probe]:
    """Ask every service the answers use, in order; a sample-only paper setup asks nothing."""
    out: list[Probe] = []
    if answers.broker == "alpaca" or (answers.alpaca_key and answers.alpaca_secret):
        out.append(probe_alpaca(answers, endpoints))
    if answers.data != "sample":
        out.append(probe_data(answers, endpoints))
    if answers.telegram_token:
        out.append(probe_telegram(answers, endpoints))
    if answers.llm_url:
        out.append(probe_llm(answers, endpoints))
    return out


# ------------------------------------------------------------------------------ write


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _account(name: str, strategy: str, answers: Answers, comment: str) -> list[str]:
    return [
        f"# {comment}",
        f"[accounts.{name}]",
        f"strategy = {_toml(strategy)}",
        f"universe = {_toml(list(UNIVERSE))}",
        'benchmark = "SP500"',
        'schedule = "30 16 * * mon-fri"  # after the close, every NYSE session',
        f"broker = {_toml(answers.broker)}",
        'risk = "balanced"',
        f"cash = {answers.cash:g}",
        "",
        f"[accounts.{name}.trend_king]",
        "top_n = 5",
        "",
    ]


def render_config(answers: Answers) -> str:
    """The config file of ``answers`` (no secret in it)."""
    lines = [
        "# Written by `invest setup`. Check it with: invest config check",
        "# Secrets (broker keys, bot token, LLM key) are in the secrets file, never here.",
        "",
        "[engine]",
        'timezone = "America/New_York"',
        f"data = {_toml(answers.data)}",
        "",
    ]
    if answers.broker == "alpaca":
        lines += ["[engine.alpaca]", "paper = true  # the paper endpoint: no real money", ""]
    if answers.telegram_token:
        chat = int(answers.telegram_chat)
        lines += [
            "[engine.telegram]",
            "enabled = true",
            "",
            "[[engine.telegram.chats]]  # a private chat's id is its user's id",
            f"chat_id = {chat}",
            f"user_ids = [{chat}]",
            'role = "trader"  # viewer: read commands only',
            "",
        ]
    if answers.template in ("trend", "hybrid"):
        lines += _account("trend-daily", "trend_king", answers, "Trend King (AEGIS), daily")
    if answers.template == "hybrid":
        lines += _account(
            "hybrid-daily",
            "hybrid",
            answers,
            "trend_king with the bundled RL pack as a confirming vote",
        )
        lines += ["[accounts.hybrid-daily.rl]", 'pack = "default"', "min_confidence = 0.5", ""]
    if answers.template == "gated":
        lines += _account(
            "gated-daily", "trend_king", answers, "trend_king; the LLM gate reviews every buy"
        )
        lines += [
            "[accounts.gated-daily.oracle]",
            'provider = "openai"  # any OpenAI-compatible server',
            f"base_url = {_toml(answers.llm_url)}",
            f"model = {_toml(answers.llm_model)}",
            'mode = "gate"',
            'on_unavailable = "block"  # no new buys while the LLM cannot answer',
            "",
        ]
    return "\n".join(lines)


def config_target(paths: Paths) -> Path:
    """Where the config goes: the resolved config, or the user's when only the example was found."""
    if paths.config_why.startswith("bundled example"):
        import platformdirs

        return Path(str(platformdirs.user_config_dir("invest"))) / "config.toml"
    return paths.config


def _replace(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` through a private temporary file, keeping the old owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.setup-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    private_file(tmp, mode)
    try:
        tmp.write_text(text, encoding="utf-8")
        if path.exists():
            st = path.stat()
            if os.geteuid() == 0:  # root writing the service user's file: it stays theirs
                os.chown(tmp, st.st_uid, st.st_gid)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _secrets_text(path: Path, values: Mapping[str, str]) -> str:
    """The secrets file with ``values`` set and every other line kept."""
    old = (
        path.read_text(encoding="utf-8").splitlines()
        if path.exists()
        else [
            "# Invest appliance secrets: KEY=VALUE lines. Mode 0600. Never commit or paste this file."
        ]
    )
    kept = [
        line
        for line in old
        if line.strip().removeprefix("export ").partition("=")[0].strip() not in values
    ]
    return "\n".join([*kept, *(f"{k}={v}" for k, v in values.items())]) + "\n"


def write(answers: Answers, config: Path, secrets: Path) -> list[str]:
    """Validate the config of ``answers``, then write it and merge the keys into ``secrets``.

    An existing config is kept as ``config.toml.bak``. Returns what was written, one line each.

    Raises:
        ConfigError: the config would not load (nothing is written then).
    """
    text = render_config(answers)
    values = {
        var: getattr(answers, name) for name, var in SECRET_FIELDS.items() if getattr(answers, name)
    }
    saved = os.environ.get("INVEST_LLM_API_KEY")
    try:
        if answers.llm_key:
            os.environ["INVEST_LLM_API_KEY"] = answers.llm_key
        parse_config(tomllib.loads(text), str(config))  # as `invest config check` will
    finally:
        if saved is None:
            os.environ.pop("INVEST_LLM_API_KEY", None)
        else:
            os.environ["INVEST_LLM_API_KEY"] = saved
    if values and secrets.exists():
        read_secrets_file(secrets)  # refuses a file open to others before it is touched
    done: list[str] = []
    if config.exists():
        backup = config.with_name(config.name + ".bak")
        _replace(backup, config.read_text(encoding="utf-8"), 0o640)
        done.append(f"kept the old config as {backup}")
    _replace(config, text, 0o640)
    done.append(
        f"wrote {config} (template {answers.template}, data {answers.data}, broker {answers.broker})"
    )
    if values:
        _replace(secrets, _secrets_text(secrets, values), 0o600)
        done.append(f"wrote {', '.join(values)} to {secrets} (mode 0600)")
    return done


# ------------------------------------------------------------------------------ fronts

Ask = Callable[[str], str]


def interactive(
    answers: Answers,
    ask: Ask = input,
    secret: Ask = getpass.getpass,
    *,
    current: Mapping[str, str] | None = None,
) -> Answers:
    """Ask one question per line, each with its default (Enter keeps it)."""
    current = current or {}

    def choose(question: str, default: str, options: tuple[str, ...]) -> str:
        while True:
            got = (
                ask(f"{question} ({' | '.join(options)}) [{default}]: ").strip().lower() or default
            )
            if got in options:
                return got
            print(f"  {got!r} is not one of: {', '.join(options)}")

    def text(question: str, default: str) -> str:
        return ask(f"{question} [{default or 'Enter skips'}]: ").strip() or default

    def key(question: str, name: str) -> str:
        have = getattr(answers, name) or current.get(SECRET_FIELDS[name], "")
        hint = "set; Enter keeps it" if have else "Enter skips"
        return secret(f"{question} [{hint}]: ").strip() or have

    a = answers
    for name, what in TEMPLATES.items():
        print(f"  {name}: {what}")
    a = replace(a, template=choose("Accounts template", a.template, tuple(TEMPLATES)))
    a = replace(a, data=choose("Market data source", a.data, DATA_SOURCES))
    a = replace(
        a,
        broker=choose(
            "Broker (paper: simulated here; alpaca: Alpaca's paper account)", a.broker, BROKERS
        ),
    )
    if a.needs_alpaca or ask("Enter Alpaca paper keys? (y/n) [n]: ").strip().lower().startswith(
        "y"
    ):
        a = replace(a, alpaca_key=key("Alpaca paper API key id", "alpaca_key"))
        a = replace(a, alpaca_secret=key("Alpaca paper API secret key", "alpaca_secret"))
    a = replace(a, telegram_token=key("Telegram bot token (from @BotFather)", "telegram_token"))
    if a.telegram_token:
        a = replace(
            a,
            telegram_chat=text(
                "Telegram chat id (your user id for a private chat)", a.telegram_chat
            ),
        )
    if a.template == "gated":
        a = replace(
            a, llm_url=text("LLM base URL (OpenAI-compatible, e.g. http://gpu-box:8080)", a.llm_url)
        )
        a = replace(a, llm_model=text("LLM model", a.llm_model))
        a = replace(a, llm_key=key("LLM API key", "llm_key"))
    return a


def run_setup(
    args: argparse.Namespace,
    paths: Paths,
    env: Mapping[str, str] | None = None,
    *,
    ask: Ask = input,
    secret: Ask = getpass.getpass,
    tty: bool | None = None,
    endpoints: Endpoints | None = None,
) -> int:
    """``invest setup``: gather, probe, write. Returns the exit status.

    ``ask``, ``secret``, ``tty`` and ``endpoints`` (default: from ``env``) are for tests.
    """
    env = os.environ if env is None else env
    config = config_target(paths)
    secrets = resolve_secrets(paths.home, env)
    answers = gather(args, env)
    if not args.non_interactive:
        if not (sys.stdin.isatty() if tty is None else tty):
            raise ConfigError(
                "invest setup asks questions and needs a terminal; run it in one, or pass "
                "--non-interactive with flags or INVEST_SETUP_* variables (see README)"
            )
        current = read_secrets_file(secrets) if secrets.is_file() else {}
        print(f"config: {config}\nsecrets: {secrets}")
        answers = interactive(answers, ask, secret, current=current)
    problems = answers.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    if not args.skip_checks:
        results = probe(answers, endpoints or Endpoints.from_env(env))
        for r in results:
            print(r.line())
        failed = [r for r in results if not r.ok]
        if failed and not args.force:
            keep = not args.non_interactive and ask(
                "Write the files anyway? (y/n) [n]: "
            ).strip().lower().startswith("y")
            if not keep:
                print(
                    f"nothing written: {len(failed)} check(s) failed; fix them and run "
                    "`invest setup` again (--force writes anyway)",
                    file=sys.stderr,
                )
                return 1
    for line in write(answers, config, secrets):
        print(line)
    load_config(config)
    print("next: `invest doctor`, then `invest start` (or `invest engine` in a terminal)")
    return 0


def main(args: argparse.Namespace, paths: Paths) -> int:
    """The handler of ``invest setup`` (its options are built in cli.py)."""
    return run_setup(args, paths)
