"""runtime/examples/orchestrator.toml: the seed's thirteen accounts, and each one backtests.

The rules accounts replay plainly; the LLM accounts replay (``--oracle replay``) the
bundled answers recorded from a scripted stand-in (runtime/examples/
orchestrator_llm_cache.json, scripts/orchestrator_cache.py). A missing answer is a
failure here, never a request: the HTTP client raises if anything tries to send.
"""

from __future__ import annotations

import json
import statistics
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.backtest.compare import (
    by_family_reports,
    family_table,
    paired_table,
    strategy_key,
)
from invest.runtime.cli import main
from invest.runtime.config import Settings, load_config
from invest.runtime.oracle.client.http import HttpLLMClient

EXAMPLES = resources.files("invest.runtime") / "examples"
#: The window the bundled answers were recorded over (scripts/orchestrator_cache.py).
START, END = "2022-01-03", "2022-12-28"
#: The statuses of an LLM review that got an answer (or had nothing to ask).
ANSWERED = {"decided", "reviewed", "nothing_to_review"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(Path(str(EXAMPLES / "orchestrator.toml")))


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / "orchestrator_llm_cache.json").read_text())
    return doc


def test_thirteen_jobs_on_two_families_with_rules_twins(settings: Settings) -> None:
    accounts = settings.accounts
    assert len(accounts) + len(settings.research) == 13
    families = {n: a.family for n, a in accounts.items()}
    assert list(families.values()).count("qwen3-next") == 5
    assert list(families.values()).count("nemotron") == 5
    assert list(families.values()).count("rules") == 2
    for acct in accounts.values():
        assert acct.family is not None
        assert acct.cash == 10_000  # the seed's starting cash
        if acct.family == "rules":
            assert acct.oracle is None
            continue
        assert acct.oracle is not None
        assert acct.oracle.model == acct.family  # each family asks its own model
    # every Qwen3-Next account has its Nemotron twin: same strategy, universe and rules
    for name, acct in accounts.items():
        if acct.family != "qwen3-next":
            continue
        twin = accounts[f"{name}-nemotron"]
        assert strategy_key(f"{name}-nemotron", "nemotron") == name
        assert (twin.strategy, twin.universe, twin.risk) == (
            acct.strategy,
            acct.universe,
            acct.risk,
        )
        assert twin.schedule != acct.schedule  # 20 minutes later, as in the seed
    # the two rules baselines twin an LLM mandate each
    for rules in ("weekly-balanced-rules", "daily-momentum-rules"):
        base = strategy_key(rules, "rules")
        assert accounts[rules].universe == accounts[base].universe
        assert accounts[rules].risk == accounts[base].risk
    (research,) = settings.research.values()
    assert research.oracle is not None
    assert research.oracle.model == "qwen3-next"


def test_the_bundled_answers_say_what_they_are(settings: Settings, bundle: dict[str, Any]) -> None:
    assert "RECORDED FROM A SCRIPTED STAND-IN, NOT A REAL LLM" in bundle["about"]
    assert "not a real LLM" in bundle["recorded_from"]
    assert (bundle["start"], bundle["end"]) == (START, END)
    llm = [n for n, a in settings.accounts.items() if a.oracle is not None]
    assert bundle["accounts"] == llm
    assert len(llm) == 10
    assert bundle["answers"]
    for answer in bundle["answers"].values():
        assert "SCRIPTED STAND-IN" in answer["content"] or answer["content"] == '{"actions": []}'
    size = (EXAMPLES / "orchestrator_llm_cache.json").stat().st_size  # type: ignore[attr-defined]
    assert size < 400_000, f"the bundled cache grew to {size:,} bytes"


#: The bundled recording, read in place by ``--oracle-answers``.
ANSWERS = str(EXAMPLES / "orchestrator_llm_cache.json")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty data folder: the answers come from the bundled file (--oracle-answers)."""
    return tmp_path_factory.mktemp("orchestrator-home")


def backtest(
    name: str, home: Path, out: Path, monkeypatch: pytest.MonkeyPatch, *oracle: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """report.json and the decision records of ``invest backtest`` of one account."""
    monkeypatch.setenv("INVEST_HOME", str(home))
    config = str(EXAMPLES / "orchestrator.toml")
    argv = ["backtest", "--config", config, "--account", name, "--start", START, "--end", END]
    assert main([*argv, *oracle, "--out", str(out), "--json"]) == 0
    report = json.loads((out / "report.json").read_text())
    report["out"] = str(out)
    lines = (out / "decisions.jsonl").read_text().splitlines()
    return report, [json.loads(line) for line in lines]


def reviews(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The LLM part of each record: the gate's or manager's ``llm``, an options ``context.llm``."""
    found = []
    for rec in records:
        context = rec.get("context")
        llm = rec.get("llm") or (context.get("llm") if isinstance(context, dict) else None)
        if llm:
            found.append(llm)
    return found


def misses(records: list[dict[str, Any]]) -> list[str]:
    """Every review without a recorded answer (an abstention, a verdict not from the model)."""
    out = [f"status {r.get('status')}" for r in reviews(records) if r.get("status") not in ANSWERED]
    for r in reviews(records):
        out += [
            f"{v['symbol']}: {v['source']}" for v in r.get("verdicts", ()) if v["source"] != "llm"
        ]
    return out


def _refuse(self: HttpLLMClient, request: object) -> object:
    raise AssertionError("a replay tried to send a request to an LLM server")


@pytest.fixture(autouse=True)
def _never_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay that tried to ask a server fails the test instead of calling out."""
    monkeypatch.setattr(HttpLLMClient, "complete", _refuse)


Run = tuple[dict[str, Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def runs(
    settings: Settings, home: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Run]:
    """Every account's backtest over the window: rules plainly, LLM ones replayed.

    Each account's --out folder is ``<reports>/<account>`` (see :func:`reports_of`).
    """
    out = tmp_path_factory.mktemp("orchestrator-reports")
    done: dict[str, Run] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(HttpLLMClient, "complete", _refuse)
        for name, acct in settings.accounts.items():
            oracle = (
                ("--oracle", "replay", "--oracle-answers", ANSWERS)
                if acct.oracle is not None
                else ()
            )
            done[name] = backtest(name, home, out / name, mp, *oracle)
    return done


def test_every_account_backtests_and_the_llm_ones_replay_every_answer(
    settings: Settings, runs: dict[str, Run]
) -> None:
    assert list(runs) == list(settings.accounts)
    for name, acct in settings.accounts.items():
        _, records = runs[name]
        assert records, name
        if acct.oracle is None:
            assert reviews(records) == [], name
            continue
        answered = [r for r in reviews(records) if r.get("status") in {"decided", "reviewed"}]
        assert answered, f"{name}: the model was never asked"
        assert misses(records) == [], f"{name}: replayed without a recorded answer"
    # the answers move the output: the gate against its rules twin, family against family
    finals = {name: float(report["final_equity"]) for name, (report, _) in runs.items()}
    assert finals["daily-momentum"] != finals["daily-momentum-rules"]
    assert finals["daily-momentum"] != finals["daily-momentum-nemotron"]
    assert finals["weekly-balanced"] != finals["weekly-balanced-nemotron"]


def test_compare_groups_the_backtests_by_family(
    runs: dict[str, Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folders = [Path(report["out"]) for report, _ in runs.values()]
    cmp = by_family_reports(folders)
    assert {f: len(a) for f, a in cmp.figures.items()} == {
        "qwen3-next": 5,
        "nemotron": 5,
        "rules": 2,
    }
    _, rows = family_table(cmp)
    qwen = [float(runs[a][0]["metrics"]["cagr"]) for a in cmp.figures["qwen3-next"]]
    assert rows[0][:3] == ["qwen3-next", "5", f"{statistics.fmean(qwen):.1%}"]
    assert rows[0][3] == f"{statistics.median(qwen):.1%}"
    _, pairs = paired_table(cmp)
    assert ["weekly-balanced", "qwen3-next", "nemotron"] in [r[:3] for r in pairs]
    assert ["daily-momentum", "nemotron", "rules"] in [r[:3] for r in pairs]
    assert ["mean of 5", "qwen3-next", "nemotron"] in [r[:3] for r in pairs]
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["compare", "--reports", *map(str, folders)]) == 0
    out = capsys.readouterr().out
    assert "By model family" in out
    assert "The same strategy across families" in out
    # a folder that is no backtest report is one clear line
    assert main(["compare", "--reports", str(tmp_path)]) == 2
    assert "no readable report.json" in capsys.readouterr().err
    assert main(["compare", "--reports", str(folders[0]), str(folders[0])]) == 2
    assert "two reports of account" in capsys.readouterr().err


def test_a_missing_answer_is_caught_not_asked(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an empty cache the replay abstains every time, and the check above says so."""
    empty = tmp_path / "empty-home"
    _, records = backtest(
        "monthly-value", empty, tmp_path / "out", monkeypatch, "--oracle", "replay"
    )
    assert reviews(records)
    missed = misses(records)
    assert missed
    assert all(m == "status abstained" for m in missed)


def test_a_file_that_is_not_recorded_answers_is_refused_with_what_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path / "home"))
    bad = tmp_path / "answers.json"
    bad.write_text('{"not": "answers"}')
    config = str(EXAMPLES / "orchestrator.toml")
    argv = ["backtest", "--config", config, "--account", "daily-momentum", "--oracle", "replay"]
    assert main([*argv, "--start", START, "--end", END, "--oracle-answers", str(bad)]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err
    assert '"answers" object' in err
    assert (
        main([*argv, "--start", START, "--end", END, "--oracle-answers", str(tmp_path / "x")]) != 0
    )
    assert "no such file of recorded answers" in capsys.readouterr().err
