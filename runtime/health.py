"""``invest doctor`` checks that need the validated settings.

:mod:`invest.runtime.service` holds the checks that need only the standard library
(files, modes, SQLite, disk, clock). These load the config with pydantic, open the
model packs with onnxruntime, and ask Alpaca and the LLM servers, so
``service.doctor`` imports this module only when it runs them.

Each check returns a :class:`~invest.runtime.layout.Check` with what to fix. The
probes of the broker and the LLM are injectable, so tests use a loopback server or
a fake instead of the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from invest.runtime.config import Settings, load_config
from invest.runtime.errors import InvestError, PolicyPackError
from invest.runtime.freshness import check_data
from invest.runtime.layout import Check, Layout
from invest.runtime.secrets import load_secrets, read_secrets_file

#: Strategies that read a model pack.
RL_STRATEGIES = ("rl_ensemble", "hybrid")

#: Asks Alpaca with the keys of ``secrets`` for account ``name``; returns its open positions.
BrokerProbe = Callable[[Settings, str, Path], int]
#: Asks one account's LLM endpoint; returns (reachable, detail).
LlmProbe = Callable[[Settings, str], tuple[bool, str]]


def load_settings(paths: Layout) -> tuple[Check, Settings | None]:
    """Validate the config as the engine will (the secrets file filled in, as its wrapper does).

    Returns:
        The ``settings`` check, and the settings when they are valid.
    """
    try:
        extra = read_secrets_file(paths.secrets) if paths.secrets.is_file() else {}
    except InvestError:
        extra = {}  # unreadable or too open: the secrets check says so
    for key, value in extra.items():
        os.environ.setdefault(key, value)  # this process only, like invest-engine's wrapper
    try:
        settings = load_config(paths.config)
    except InvestError as e:
        fix = "fix the key it names (`invest config check` says the same)"
        return Check("settings", "FAIL", str(e).replace("\n", " "), fix), None
    names = ", ".join(settings.accounts) or "none"
    return Check("settings", "OK", f"{len(settings.accounts)} account(s): {names}"), settings


def check_packs(settings: Settings, packs_dir: Path) -> Check:
    """Verify the model pack of every RL account with onnxruntime, and its promotion."""
    from invest.runtime.policy.pack import resolve_pack, verify_pack

    used = {n: a for n, a in settings.accounts.items() if a.strategy in RL_STRATEGIES}
    if not used:
        return Check("packs", "SKIP", "no account uses a model pack")
    problems: list[str] = []
    notes: list[str] = []
    for name, acct in used.items():
        try:
            path = resolve_pack(acct.rl.pack, packs_dir)
        except PolicyPackError as e:
            problems.append(f"{name}: {e}")
            continue
        report = verify_pack(path)  # sha256, feature spec, and every policy opened by onnxruntime
        if not report.ok or report.manifest is None:
            problems.append(f"{name}: {path}: {report.reason}")
            continue
        promo = report.manifest.promotion
        if promo is not None and promo.passed:
            continue
        real_money = acct.broker == "alpaca" and not settings.engine.alpaca.paper
        if real_money and not acct.rl.allow_unpromoted:
            problems.append(
                f"{name}: pack {acct.rl.pack!r} did not pass its promotion gate and the account "
                "trades real money (the engine refuses it)"
            )
        else:
            notes.append(f"{name}: pack {acct.rl.pack!r} not promoted (paper only)")
    if problems:
        return Check(
            "packs",
            "FAIL",
            "; ".join(problems),
            f"install a pack that verifies into {packs_dir} (`invest models verify NAME`)",
        )
    detail = f"{len(used)} account(s): packs verified, every policy opened by onnxruntime"
    return Check("packs", "OK", "; ".join([detail, *notes]))


def _alpaca_positions(settings: Settings, name: str, secrets: Path) -> int:
    from invest.runtime.cycle import alpaca_broker

    keys = load_secrets(secrets if secrets.is_file() else None)
    broker = alpaca_broker(name, settings, (), keys)
    try:
        return len(broker.positions())
    finally:
        broker.close()


def check_broker(settings: Settings, secrets: Path, probe: BrokerProbe | None = None) -> Check:
    """Ask Alpaca for the positions of the first account that trades through it."""
    alpaca = [n for n, a in settings.accounts.items() if a.broker == "alpaca"]
    if not alpaca:
        return Check("broker", "SKIP", "every account uses the paper broker")
    endpoint = "paper" if settings.engine.alpaca.paper else "LIVE"
    try:
        positions = (probe or _alpaca_positions)(settings, alpaca[0], secrets)
    except InvestError as e:
        return Check(
            "broker",
            "FAIL",
            f"Alpaca {endpoint} endpoint for {alpaca[0]}: {e}",
            f"check ALPACA_API_KEY and ALPACA_SECRET_KEY in {secrets}, and the network",
        )
    return Check(
        "broker",
        "OK",
        f"Alpaca {endpoint} endpoint answers for {', '.join(alpaca)} ({positions} open positions)",
    )


def _llm_health(settings: Settings, name: str) -> tuple[bool, str]:
    from invest.runtime.oracle.client.http import probe_endpoint

    cfg = settings.accounts[name].oracle
    assert cfg is not None
    health = probe_endpoint(cfg)
    return health.ok, f"{cfg.api_base}: {health.detail}"


def check_llm(settings: Settings, probe: LlmProbe | None = None) -> Check:
    """Ask every account's LLM endpoint for its models (``GET /models``)."""
    names = [n for n, a in settings.accounts.items() if a.oracle is not None]
    if not names:
        return Check("llm", "SKIP", "no account has an oracle section")
    results = [(n, *(probe or _llm_health)(settings, n)) for n in names]
    failed = [f"{n}: {detail}" for n, ok, detail in results if not ok]
    if failed:
        return Check(
            "llm",
            "FAIL",
            "; ".join(failed),
            "check the oracle's base_url, that the server runs and serves the model (`invest llm check`)",
        )
    return Check("llm", "OK", "; ".join(f"{n}: {detail}" for n, _, detail in results))


def settings_checks(paths: Layout) -> list[Check]:
    """The settings, packs, broker and LLM checks (SKIP when the config does not parse)."""
    first, settings = load_settings(paths)
    if settings is None:
        skip = "the settings are invalid (see above)"
        return [first, *(Check(n, "SKIP", skip) for n in ("packs", "broker", "llm", "data"))]
    return [
        first,
        check_packs(settings, paths.home / "packs"),
        check_broker(settings, paths.secrets),
        check_llm(settings),
        check_data(settings, paths.home / "ledger.sqlite"),  # the engine's ledger (Paths.ledger)
    ]
