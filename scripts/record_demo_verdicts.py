"""Record the demo's LLM-gate verdicts from a deterministic local test server.

``invest demo`` shows an account with an LLM gate (``gated-daily``) without a model:
it replays (``--oracle replay``) answers cached under their prompt hash. This script
makes that cache. It starts the tests' loopback OpenAI-compatible server
(``tests/runtime/oracle/support.py``), answering by a fixed rule on the indicators in
the prompt, NOT a real model, replays the gated account over 2022 against it with the
cache on, and writes the cached answers to ``runtime/examples/demo_verdicts.json``
(package data). Every answer's reason says that it was recorded from a test server.

Rerun it when a change to the gate's prompts or the sample data changes the prompt
hashes (the demo then says that no recorded verdict matched)::

    .venv/bin/python scripts/record_demo_verdicts.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runtime" / "examples" / "demo_verdicts.json"
LABEL = "Recorded from a deterministic test server, not a real model"


def verdicts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The test server's rule: veto an overextended buy, halve a stretched one, else approve."""
    prompt = json.loads(body["messages"][-1]["content"])
    out = []
    for buy in prompt["proposed_buys"]:
        symbol = buy["symbol"]
        ind = prompt["symbols"].get(symbol, {}).get("indicators", {})
        rsi, gap = ind.get("rsi_14"), ind.get("dist_sma_200")
        if rsi is not None and rsi >= 70:
            verdict, fraction, why = "VETO", 0.0, f"RSI(14) {rsi:.0f} >= 70, overbought"
        elif gap is not None and gap >= 0.30:
            verdict, fraction, why = "VETO", 0.0, f"{gap:.0%} above its 200-day average"
        elif gap is not None and gap >= 0.15:
            verdict, fraction, why = "SHRINK", 0.5, f"{gap:.0%} above its 200-day average"
        else:
            verdict, fraction, why = "APPROVE", 1.0, "no rule of the test server objects"
        reason = f"{LABEL}: {why}."
        out.append({"symbol": symbol, "verdict": verdict, "fraction": fraction, "reason": reason})
    return out


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from invest.runtime.commands import (
        DEMO_GATE_MODEL,
        DEMO_GATE_START,
        DEMO_GATED,
        demo_settings,
    )
    from invest.runtime.config import load_config
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data import open_source
    from invest.runtime.market import load_market
    from invest.runtime.oracle.gate.cycle import build_cycle_gate
    from invest.runtime.oracle.store import MemoryStore
    from invest.runtime.paths import Paths, example_config
    from tests.runtime.oracle.support import FakeLLMServer, completion

    server = FakeLLMServer()
    server.respond = lambda body: completion(
        json.dumps({"verdicts": verdicts(body)}, sort_keys=True), model=DEMO_GATE_MODEL
    )
    server.start()
    try:
        settings = demo_settings(load_config(example_config()), base_url=server.url)
        cfg = settings.account(DEMO_GATED).oracle
        assert cfg is not None
        store = MemoryStore()
        with tempfile.TemporaryDirectory() as home:
            gate = build_cycle_gate(
                cfg, DEMO_GATED, Path(home), now=lambda: datetime.now(UTC), store=store
            )
            acct = AccountRuntime.build(
                DEMO_GATED, settings, packs_dir=Paths.resolve().packs, gate=gate, paper=True
            )
            from invest.runtime.backtest.runner import replay

            source = open_source("sample", cache_dir=Path(home) / "cache")
            r = replay(
                acct, load_market(source, acct, None), DEMO_GATE_START, settings.engine.timezone
            )
            gate.close()
    finally:
        server.stop()
    failed = [v for d in r.decisions if d.get("llm") for v in d["llm"]["verdicts"]]
    failed = [v for v in failed if v["source"] != "llm"]
    if failed:
        print(f"error: {len(failed)} buy(s) got no verdict from the test server", file=sys.stderr)
        return 1
    doc = {
        "about": (
            f"{LABEL}: answers of the loopback server in scripts/record_demo_verdicts.py "
            f"to the gate of the demo's {DEMO_GATED} account, {r.days[0]}..{r.days[-1]}, "
            "keyed by prompt hash (invest.runtime.oracle.client.cache.prompt_hash)."
        ),
        "model": DEMO_GATE_MODEL,
        "answers": dict(sorted(store.cache.items())),
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(store.cache)} recorded answer(s) to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
