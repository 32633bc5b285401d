"""Record, or install, the orchestrator example's LLM answers: a SCRIPTED STAND-IN, NOT A REAL LLM.

``runtime/examples/orchestrator.toml`` has ten LLM accounts on two model families
(qwen3-next, nemotron). So that they backtest offline (``--oracle replay``), this
script serves a loopback OpenAI-compatible responder (the tests'
``tests/runtime/oracle/support.py`` server) that derives every answer from the figures
in the prompt by a fixed rule, one rule per model name (:func:`answer`), runs
``invest backtest --oracle live`` of each LLM account over :data:`START`..:data:`END`
against it with the config's ``base_url`` pointed at it, and writes the cached answers,
keyed by prompt hash, to ``runtime/examples/orchestrator_llm_cache.json`` (package data).
Every answer's text says that it was recorded from a scripted stand-in.

    .venv/bin/python scripts/orchestrator_cache.py record    # rewrite the bundled file
    .venv/bin/python scripts/orchestrator_cache.py install   # into $INVEST_HOME/oracle

``install`` puts the bundled answers into the cache that ``invest backtest --oracle
replay`` reads (``$INVEST_HOME/oracle/cache``; ``--home DIR`` for another). Rerun
``record`` when a prompt, the sample data or the config changes the prompt hashes (a
replay then reports abstentions: no recorded answer matched).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "runtime" / "examples" / "orchestrator.toml"
OUT = ROOT / "runtime" / "examples" / "orchestrator_llm_cache.json"
#: The window the answers cover: a replay must start on START (a later start changes the
#: portfolio in every later prompt, so no answer would match).
START, END = "2022-01-03", "2022-12-28"
LABEL = "RECORDED FROM A SCRIPTED STAND-IN, NOT A REAL LLM"
#: The base_url every LLM section of orchestrator.toml names; recording swaps it out.
BASE_URL = "http://127.0.0.1:8080/v1"


def _ind(prompt: dict[str, Any], symbol: str) -> dict[str, float]:
    raw = prompt.get("symbols", {}).get(symbol, {}).get("indicators", {})
    return {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}


def _cautious(model: str) -> bool:
    """The nemotron stand-in is the cautious one; the qwen3-next stand-in follows trends."""
    return model.startswith("nemotron")


def gate(prompt: dict[str, Any], model: str) -> dict[str, Any]:
    """Verdicts on the proposed buys from their trend and RSI (scaled: (RSI - 50) / 50)."""
    far, hot = (0.20, 0.40) if _cautious(model) else (0.30, 0.50)
    out = []
    for buy in prompt["proposed_buys"]:
        symbol = buy["symbol"]
        ind = _ind(prompt, symbol)
        gap, rsi = ind.get("dist_sma_200", 0.0), ind.get("rsi_14", 0.0)
        if gap >= far:
            verdict, fraction, why = "VETO", 0.0, f"{gap:.0%} above its 200-day average"
        elif rsi >= hot:
            verdict, fraction, why = "SHRINK", 0.5, f"RSI {50 + 50 * rsi:.0f}, stretched"
        else:
            verdict, fraction, why = "APPROVE", 1.0, "trend and RSI within the rule"
        out.append(
            {
                "symbol": symbol,
                "verdict": verdict,
                "fraction": fraction,
                "reason": f"{LABEL}: {why}.",
            }
        )
    return {"verdicts": out}


def _regime(prompt: dict[str, Any]) -> str:
    """BULL/BEAR on the median distance to the 200-day average; HIGH_VOLATILITY on vol."""
    symbols = list(prompt.get("symbols", {}))
    gaps = sorted(_ind(prompt, s).get("dist_sma_200", 0.0) for s in symbols) or [0.0]
    vols = sorted(_ind(prompt, s).get("vol_20", 0.0) for s in symbols) or [0.0]
    if vols[len(vols) // 2] > 0.45:
        return "HIGH_VOLATILITY"
    return "BULL" if gaps[len(gaps) // 2] > 0 else "BEAR"


def analysis(prompt: dict[str, Any], model: str) -> dict[str, Any]:
    """Pass 1 of the manager: the regime by :func:`_regime`, no sector views."""
    regime = _regime(prompt)
    return {
        "regime": regime,
        "sector_scores": {},
        "portfolio_health": f"{LABEL}.",
        "opportunities": [],
        "threats": [],
        "summary": f"{LABEL}: regime {regime} from the median distance to the 200-day average.",
    }


def decisions(prompt: dict[str, Any], model: str) -> dict[str, Any]:
    """Pass 2: sell broken trends; in a BULL regime buy the best momentum not yet held.

    qwen3-next: the top 3 by 6-month momentum, sells below -5% from the 200-day average.
    nemotron: the top 2 by momentum over volatility, only in BULL, sells on negative momentum.
    """
    cautious = _cautious(model)
    held = set(prompt.get("held", []))
    actions: list[dict[str, Any]] = []
    for s in sorted(held):
        ind = _ind(prompt, s)
        broken = ind.get("mom_126", 0.0) < 0 if cautious else ind.get("dist_sma_200", 0.0) < -0.05
        if broken:
            actions.append({"action": "SELL", "symbol": s, "thesis": f"{LABEL}: trend broken."})
    regime = (prompt.get("analysis") or {}).get("regime", "BEAR")
    buy_in = {"BULL"} if cautious else {"BULL", "SIDEWAYS", "HIGH_VOLATILITY"}
    if regime in buy_in:

        def score(s: str) -> float:
            ind = _ind(prompt, s)
            mom = ind.get("mom_126", -math.inf)
            return mom / max(ind.get("vol_20", 1.0), 0.05) if cautious else mom

        ranked = [s for s in prompt.get("buyable", []) if s not in held and score(s) > 0]
        picks = sorted(ranked, key=lambda s: (-score(s), s))[: 2 if cautious else 3]
        cash = float((prompt.get("portfolio") or {}).get("cash_usd", 0.0))
        for s in picks:
            amount = math.floor(cash * 0.8 / len(picks))
            if amount >= 100:
                actions.append(
                    {
                        "action": "BUY",
                        "symbol": s,
                        "amount": float(amount),
                        "thesis": f"{LABEL}: top momentum in a {regime} regime.",
                        "stop_loss_pct": 0.10,
                    }
                )
    return {"actions": actions}


def spread_type(prompt: dict[str, Any], model: str) -> dict[str, Any]:
    """Spreads pass 1: the first allowed type (qwen3-next), the last one (nemotron)."""
    allowed = [t["type"] for t in prompt["allowed_types"]]
    kind = allowed[-1] if _cautious(model) else allowed[0]
    return {
        "spread_type": kind,
        "reason": f"{LABEL}: the {'last' if _cautious(model) else 'first'} allowed type.",
    }


def _rich(prompt: dict[str, Any], underlying: str) -> bool:
    """Whether the underlying's IV percentile is in the upper half of its year."""
    raw = prompt.get("underlyings", {}).get(underlying, {}).get("iv_percentile")
    if not isinstance(raw, int | float):
        return False
    return (raw / 100 if raw > 1 else raw) >= 0.5


def options_actions(prompt: dict[str, Any], model: str) -> dict[str, Any]:
    """Wheel and spreads pass 2: at most one open a cycle.

    qwen3-next: the candidate with the largest premium, at its max contracts. nemotron:
    the first candidate that sells premium when the IV percentile is in the upper half
    of its year or buys it in the lower half, one contract.
    """
    candidates = prompt.get("candidates", [])
    if _cautious(model):
        fits = [
            c
            for c in candidates
            if bool(c.get("credit")) == _rich(prompt, str(c.get("underlying")))
        ]
        pick, contracts = (fits[0], 1) if fits else (None, 0)
    else:
        by_premium = sorted(candidates, key=lambda c: -abs(float(c.get("premium_per_share") or 0)))
        pick = by_premium[0] if by_premium else None
        contracts = int(pick["max_contracts"]) if pick else 0
    if pick is None:
        return {"actions": [{"action": "SKIP", "reason": f"{LABEL}: nothing fits the rule."}]}
    action = {
        "action": pick["action"],
        "candidate_id": pick["id"],
        "contracts": contracts,
        "reason": f"{LABEL}: fixed rule.",
    }
    return {"actions": [action]}


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The stand-in's answer to one chat request, by its system prompt and model."""
    from invest.runtime.oracle.gate.prompts import GATE_SYSTEM
    from invest.runtime.oracle.manager.prompts import ANALYST_SYSTEM, MANAGER_SYSTEM
    from invest.runtime.oracle.options.prompts import SPREADS_SYSTEM, TYPE_SYSTEM, WHEEL_SYSTEM

    system = body["messages"][0]["content"]
    prompt = json.loads(body["messages"][-1]["content"])
    model = str(body["model"])
    rules = {
        GATE_SYSTEM: gate,
        ANALYST_SYSTEM: analysis,
        MANAGER_SYSTEM: decisions,
        TYPE_SYSTEM: spread_type,
        SPREADS_SYSTEM: options_actions,
        WHEEL_SYSTEM: options_actions,
    }
    if system not in rules:
        raise ValueError(f"the stand-in has no rule for this system prompt: {system[:60]!r}")
    return rules[system](prompt, model)


def llm_accounts() -> list[str]:
    """The accounts of orchestrator.toml with an oracle section, in the file's order."""
    from invest.runtime.config import load_config

    settings = load_config(CONFIG)
    return [n for n, a in settings.accounts.items() if a.oracle is not None]


def record() -> int:
    sys.path.insert(0, str(ROOT))
    from invest.runtime.cli import main as invest
    from tests.runtime.oracle.support import FakeLLMServer, completion

    server = FakeLLMServer()
    server.respond = lambda body: completion(
        json.dumps(answer(body), sort_keys=True), model=str(body["model"])
    )
    server.start()
    accounts = llm_accounts()
    try:
        with tempfile.TemporaryDirectory(prefix="invest-orch-record-") as tmp:
            config = Path(tmp) / "orchestrator.toml"
            config.write_text(CONFIG.read_text(encoding="utf-8").replace(BASE_URL, server.url))
            home = Path(tmp) / "home"
            os.environ["INVEST_HOME"] = str(home)
            for name in accounts:
                argv = ["backtest", "--config", str(config), "--account", name]
                argv += ["--oracle", "live", "--start", START, "--end", END, "--json"]
                with Path(os.devnull).open("w") as sink:
                    stdout, sys.stdout = sys.stdout, sink
                    try:
                        rc = invest(argv)
                    finally:
                        sys.stdout = stdout
                if rc != 0:
                    print(f"error: the backtest of {name} failed ({rc})", file=sys.stderr)
                    return 1
            cache = home / "oracle" / "cache"
            answers = {p.stem: json.loads(p.read_text()) for p in sorted(cache.glob("*.json"))}
    finally:
        server.stop()
    doc = {
        "about": (
            f"{LABEL}. Answers of the loopback stand-in in scripts/orchestrator_cache.py (a "
            "fixed rule on the prompt's figures, one per model name) to the LLM accounts of "
            f"runtime/examples/orchestrator.toml, {START}..{END}, keyed by prompt hash "
            "(invest.runtime.oracle.client.cache.prompt_hash). They show the replay "
            "machinery and the A/B comparison working offline; they say nothing about "
            "Qwen3-Next or Nemotron."
        ),
        "recorded_from": "scripted stand-in (scripts/orchestrator_cache.py), not a real LLM",
        "start": START,
        "end": END,
        "accounts": accounts,
        "answers": answers,
    }
    OUT.write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    size = OUT.stat().st_size
    print(f"wrote {len(answers)} recorded answer(s), {size:,} bytes, to {OUT.relative_to(ROOT)}")
    return 0


def install(home: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from invest.runtime.oracle.store import JsonFileStore

    doc = json.loads(OUT.read_text(encoding="utf-8"))
    store = JsonFileStore(home / "oracle")
    for key, value in doc["answers"].items():
        store.cache_put(key, value)
    print(
        f"installed {len(doc['answers'])} answer(s) {LABEL} into {home / 'oracle' / 'cache'}; "
        f"replay them with --oracle replay --start {START} --end {END}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "install"))
    parser.add_argument("--home", help="install: the data folder (default: $INVEST_HOME)")
    args = parser.parse_args(argv)
    if args.action == "record":
        return record()
    sys.path.insert(0, str(ROOT))
    from invest.runtime.paths import Paths

    return install(Path(args.home) if args.home else Paths.resolve(None).home)


if __name__ == "__main__":
    raise SystemExit(main())
