"""A whole robustness run and its outputs: report.json, summary.md, mc_paths.csv, report.html.

:func:`run_robustness` runs the parts (Monte Carlo, bootstrap, stress, crises)
around one baseline replay of the window, and :func:`write_report` writes the
files. :func:`summary_markdown` is also what the command prints; :func:`write_html`
writes the page of charts (``invest.runtime.reports.robustness``) from the same values.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from invest.runtime.backtest.metrics import daily_returns
from invest.runtime.backtest.robustness import (
    CRASH,
    CRISES,
    DERISK_SESSIONS,
    NOISE,
    OVERFIT_SHARE,
    PARTS,
    PATH_COLUMNS,
    BootstrapKind,
    BootstrapResult,
    Crisis,
    CrisisRow,
    Distribution,
    Job,
    MonteCarloResult,
    NoiseKind,
    StressResult,
    block_bootstrap,
    crisis_replays,
    monte_carlo,
    stress_test,
)
from invest.runtime.backtest.runner import BacktestResult
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import ConfigError
from invest.runtime.reports.html import write_file
from invest.runtime.reports.robustness import CrisisCurves, RobustnessPage, robustness_html

Say = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Options:
    """Knobs of a robustness run (the command's flags)."""

    paths: int = 1000
    seed: int = 0
    noise: float = NOISE
    noise_kind: NoiseKind = "uniform"
    block_days: int = 21
    bootstrap: BootstrapKind = "fixed"
    workers: int | None = None
    crash_day: date | None = None
    crash: float = CRASH
    derisk_sessions: int = DERISK_SESSIONS
    threshold: float = OVERFIT_SHARE
    parts: tuple[str, ...] = PARTS
    crises: tuple[Crisis, ...] = CRISES

    def __post_init__(self) -> None:
        bad = [p for p in self.parts if p not in PARTS]
        if bad:
            raise ConfigError(f"--parts: unknown {', '.join(bad)} (choose from {', '.join(PARTS)})")
        if self.block_days < 1:
            raise ConfigError(f"--block-days must be at least 1, got {self.block_days}")
        if self.derisk_sessions < 0:
            raise ConfigError(f"--derisk-sessions must be >= 0, got {self.derisk_sessions}")


@dataclass
class RobustnessReport:
    """Everything a robustness run produced."""

    account: str
    data: str
    options: Options
    baseline: BacktestResult
    monte_carlo: MonteCarloResult | None = None
    bootstrap: BootstrapResult | None = None
    stress: StressResult | None = None
    crises: list[CrisisRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    in_sample: list[str] = field(default_factory=list)
    """Which replayed sessions the account's model pack trained on (``backtest.insample``)."""
    seconds: float = 0.0

    @property
    def overfit(self) -> bool:
        """Ploutos' verdict: either method loses money on more than the threshold of paths."""
        return any(d is not None and d.summary.overfit for d in (self.monte_carlo, self.bootstrap))

    @property
    def flagged(self) -> list[str]:
        """Every failed check, in words (empty when all passed)."""
        out = []
        for label, d in (("Monte Carlo", self.monte_carlo), ("block bootstrap", self.bootstrap)):
            if d is not None and d.summary.overfit:
                out.append(
                    f"{label}: {d.summary.losing_share:.1%} losing paths > "
                    f"{d.summary.threshold:.0%}: overfit"
                )
        if self.stress is not None and not self.stress.de_risked:
            out.append(
                f"stress: exposure not halved within {self.stress.sessions} sessions of the crash"
            )
        return out


def run_robustness(
    job: Job,
    frame: BarFrame,
    end: date,
    options: Options,
    data: str = "",
    say: Say | None = None,
    progress: Progress | None = None,
) -> RobustnessReport:
    """Baseline replay of ``job``'s window, then the parts named in ``options.parts``.

    Args:
        job: the account and the window's first session.
        frame: the whole history of the account's symbols (crises read beyond ``end``).
        end: last session of the window.
        options: the run's knobs.
        data: the data source's name, for the report.
        say: receives one line per finished part.
        progress: Monte Carlo progress (paths done, paths).
    """
    t0 = time.perf_counter()
    tell = say or (lambda _line: None)
    window = frame.between(None, end)
    baseline = job.replay(window)
    tell(f"baseline {baseline.days[0]} .. {baseline.days[-1]}: {baseline.seconds:.2f} s")
    rep = RobustnessReport(job.account, data, options, baseline, notes=list(baseline.notes))
    o = options
    if "mc" in o.parts:
        rep.monte_carlo = monte_carlo(
            job, window, o.paths, o.seed, o.noise, o.noise_kind, o.workers, progress, o.threshold
        )
        mc = rep.monte_carlo
        tell(
            f"Monte Carlo: {mc.paths} paths on {mc.workers} worker(s) in {mc.seconds:.1f} s "
            f"({mc.paths_per_second:.1f} paths/s)"
        )
    if "bootstrap" in o.parts:
        rets = daily_returns(baseline.equity)
        rep.bootstrap = block_bootstrap(
            rets, o.paths, o.block_days, o.seed, o.bootstrap, o.threshold
        )
        tell(f"block bootstrap: {o.paths} resamples in {rep.bootstrap.seconds:.2f} s")
    if "stress" in o.parts:
        rep.stress, _ = stress_test(job, window, baseline, o.crash_day, o.crash, o.derisk_sessions)
        tell(f"stress test: crash on {rep.stress.crash_day}")
    if "crises" in o.parts:
        rep.crises = crisis_replays(job, frame, o.crises)
        tell(f"crisis replays: {sum(r.covered for r in rep.crises)} of {len(rep.crises)} covered")
    rep.seconds = time.perf_counter() - t0
    return rep


# ---------------------------------------------------------------------------- report.json


def report_dict(rep: RobustnessReport) -> dict[str, Any]:
    """The content of report.json."""
    o, b = rep.options, rep.baseline
    out: dict[str, Any] = {
        "account": rep.account,
        "data": rep.data,
        "window": {
            "start": b.days[0].isoformat(),
            "end": b.days[-1].isoformat(),
            "sessions": len(b.days),
        },
        "baseline": b.metrics.as_dict(),
        "benchmarks": {
            "index_buy_and_hold": b.benchmark_metrics.as_dict(),
            "equal_weight_buy_and_hold": b.equal_weight_metrics.as_dict(),
        },
        "overfit": rep.overfit,
        "flags": rep.flagged,
    }
    if rep.monte_carlo is not None:
        mc = rep.monte_carlo
        out["monte_carlo"] = {
            "method": "replay of the real cycle on noisy prices, one fresh account per path",
            "noise": {
                "amplitude": mc.amplitude,
                "distribution": mc.kind,
                "applied_to": "open, high, low and close of every bar (one factor per bar), warm-up included",
            },
            "warmup_sessions": mc.warmup,  # None: the whole history
            "seed": mc.seed,
            "workers": mc.workers,
            "seconds": round(mc.seconds, 3),
            "paths_per_second": round(mc.paths_per_second, 3),
            **mc.summary.as_dict(),
        }
    if rep.bootstrap is not None:
        bs = rep.bootstrap
        out["bootstrap"] = {
            "method": f"{bs.kind} block bootstrap of the baseline's daily returns",
            "block_days": bs.block,
            "seed": bs.seed,
            "seconds": round(bs.seconds, 3),
            **bs.summary.as_dict(),
        }
    if rep.stress is not None:
        out["stress"] = rep.stress.as_dict()
    if rep.crises:
        out["crises"] = [r.as_dict() for r in rep.crises]
    out["options"] = {
        "paths": o.paths,
        "seed": o.seed,
        "noise": o.noise,
        "noise_distribution": o.noise_kind,
        "block_days": o.block_days,
        "bootstrap": o.bootstrap,
        "crash": o.crash,
        "crash_date": o.crash_day.isoformat() if o.crash_day else None,
        "derisk_sessions": o.derisk_sessions,
        "overfit_threshold": o.threshold,
        "parts": list(o.parts),
    }
    out["notes"] = [*rep.in_sample, *rep.notes]
    out["seconds"] = round(rep.seconds, 3)
    return out


# ---------------------------------------------------------------------------- summary.md


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.1%}"


def _n(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _distribution_rows(label: str, d: Distribution) -> list[list[str]]:
    flag = "**OVERFIT**" if d.overfit else "ok"
    return [
        [
            label,
            f"{_pct(d.total_return.p5)} / {_pct(d.total_return.median)} / {_pct(d.total_return.p95)}",
            f"{_n(d.sharpe.p5)} / {_n(d.sharpe.median)} / {_n(d.sharpe.p95)}",
            f"{_pct(d.max_drawdown.p5)} / {_pct(d.max_drawdown.median)} / {_pct(d.max_drawdown.p95)}",
            f"{d.losing_share:.1%}",
            flag,
        ]
    ]


def _stress_lines(s: StressResult) -> list[str]:
    stops = ", ".join(f"{x['symbol']} ({x['day']})" for x in s.stop_losses) or "none"
    flip = (
        f"{s.regime_flip_day} ({s.sessions_to_flip} sessions after the crash)"
        if s.regime_flip_day
        else ("already DEFENSE before the crash" if s.regime_before == "DEFENSE" else "no flip")
    )
    derisk = (
        f"yes, after {s.sessions_to_derisk} session(s)"
        if s.de_risked
        else f"**no** (not within {s.sessions} sessions)"
    )
    return [
        f"## Stress: -{s.drop:.0%} in one day on {s.crash_day}",
        "",
        f"Crash day chosen as: {s.chosen_by}. Every price of every symbol (index included) "
        f"from that session on is multiplied by {1 - s.drop:g}.",
        "",
        f"- Index on the crash day: {_pct(s.index_return)}; account: {_pct(s.crash_day_loss)}",
        f"- Account {s.sessions} sessions later: {_pct(s.loss_after)} from the eve of the crash; "
        f"worst point afterwards {_pct(s.worst_after)}",
        f"- Final equity against the run without the crash: {_pct(s.end_vs_baseline)}; max drawdown "
        f"{_pct(s.max_drawdown)} (without: {_pct(s.baseline_max_drawdown)})",
        f"- Exposure: {s.exposure_before:.0%} before, {s.exposure_crash_day:.0%} on the crash day, "
        f"{s.exposure_after:.0%} {s.sessions} sessions later",
        f"- Stop-loss exits within {s.sessions} sessions: {len(s.stop_losses)} ({stops}); "
        f"same days without the crash: {s.baseline_stop_losses}",
        f"- Regime: {s.regime_before or '-'} before; DEFENSE: {flip}",
        f"- Drawdown brake: {s.brake_day or 'not engaged'}",
        f"- De-risked (exposure halved) within {s.sessions} sessions: {derisk}",
        "",
    ]


def _crisis_lines(rows: list[CrisisRow]) -> list[str]:
    body = []
    for r in rows:
        curves = [m for m in (r.strategy, r.index, r.equal_weight) if m is not None]
        if len(curves) < 3:
            body.append([r.crisis.name, f"{r.crisis.start} .. {r.crisis.end}", r.note, "", "", ""])
            continue
        cells = [f"{_pct(m.total_return)} / {_pct(m.max_drawdown)}" for m in curves]
        body.append([r.crisis.name, f"{r.start} .. {r.end}", *cells, f"{r.exposure:.0%}"])
    lines = [
        "## Crisis replays (return / max drawdown)",
        "",
        *_table(
            ["Crisis", "Sessions", "Strategy", "Index B&H", "Equal-weight B&H", "Exposure"], body
        ),
        "",
    ]
    for r in rows:
        if r.to_trough:
            t = r.to_trough
            lines.append(
                f"- {r.crisis.name} to the trough {r.crisis.trough}: strategy {_pct(t['strategy'])}, "
                f"index {_pct(t['index_buy_and_hold'])}, equal weight {_pct(t['equal_weight_buy_and_hold'])}"
            )
        lines.append(f"- {r.crisis.name}: {r.crisis.note}" + (f" ({r.note})" if r.note else ""))
    return [*lines, ""]


def summary_markdown(rep: RobustnessReport) -> str:
    """A readable summary (markdown): verdict, distributions, stress, crises."""
    b = rep.baseline
    m = b.metrics
    lines = [
        f"# Robustness of {rep.account}",
        "",
        f"Window {b.days[0]} .. {b.days[-1]} ({len(b.days)} sessions), data {rep.data or '-'}. "
        f"Baseline: return {_pct(m.total_return)}, Sharpe {_n(m.sharpe)}, max drawdown "
        f"{_pct(m.max_drawdown)} (index {_pct(b.benchmark_metrics.total_return)}, equal weight "
        f"{_pct(b.equal_weight_metrics.total_return)}).",
        "",
        *(line for n in rep.in_sample for line in (f"Note: {n}", "")),
        "**Verdict: " + ("; ".join(rep.flagged) if rep.flagged else "all checks passed") + "**",
        "",
    ]
    dist = []
    if rep.monte_carlo is not None:
        mc = rep.monte_carlo
        dist += _distribution_rows(
            f"Monte Carlo ({mc.paths} paths, ±{mc.amplitude:.2%} {mc.kind})", mc.summary
        )
    if rep.bootstrap is not None:
        bs = rep.bootstrap
        dist += _distribution_rows(
            f"Bootstrap ({bs.paths}, {bs.kind} blocks of {bs.block})", bs.summary
        )
    if dist:
        lines += [
            "## Distributions over paths (p5 / median / p95)",
            "",
            *_table(
                ["Method", "Total return", "Sharpe", "Max drawdown", "Losing paths", "Verdict"],
                dist,
            ),
            "",
            f"A losing path ends the window below its starting equity; more than "
            f"{rep.options.threshold:.0%} of them flags overfitting (Ploutos' rule). The Monte "
            "Carlo re-runs the strategy on slightly different prices; the bootstrap re-orders "
            "the days the strategy actually had (blocks), so it measures how much of the result "
            "is the luck of their order, and is the harsher of the two.",
        ]
        if rep.monte_carlo is not None:
            mc = rep.monte_carlo
            warm = (
                f"the {mc.warmup} sessions before the window (the noise-free replay on them "
                "equals the replay on the whole history)"
                if mc.warmup
                else "the whole history before the window"
            )
            lines.append(
                f"Each path warms up on {warm}. Monte Carlo wall time {mc.seconds:.1f} s on "
                f"{mc.workers} worker(s): {mc.paths_per_second:.1f} paths/s."
            )
        lines.append("")
    if rep.stress is not None:
        lines += _stress_lines(rep.stress)
    if rep.crises:
        lines += _crisis_lines(rep.crises)
    lines += [f"Note: {n}" for n in rep.notes]
    lines.append(f"Total wall time {rep.seconds:.1f} s.")
    return "\n".join(lines) + "\n"


def page(rep: RobustnessReport) -> RobustnessPage:
    """What report.html shows of ``rep``: report.json's dict and the series behind the charts."""
    mc, bs = rep.monte_carlo, rep.bootstrap
    stats = ("total_return", "sharpe", "max_drawdown")
    return RobustnessPage(
        report=report_dict(rep),
        days=rep.baseline.days,
        baseline=rep.baseline.equity,
        fan=mc.fan if mc is not None else None,
        mc_stats=mc.table[:, [PATH_COLUMNS.index(c) for c in stats]] if mc is not None else None,
        bootstrap_stats=bs.table if bs is not None else None,
        crises=[CrisisCurves(r.crisis.name, r.days, r.curves) for r in rep.crises if r.curves],
    )


def write_html(rep: RobustnessReport, out: Path) -> Path:
    """Write report.html into ``out`` from the values of report.json.

    Raises:
        ReportsExtraMissing: matplotlib (the ``reports`` extra) is not installed.
    """
    return write_file(out / "report.html", robustness_html(page(rep)))


def write_report(rep: RobustnessReport, out: Path) -> list[Path]:
    """Write report.json, summary.md and, with a Monte Carlo, mc_paths.csv and mc_fan.csv.

    mc_fan.csv holds the fan of report.html: per session, the 5th, 50th and 95th
    percentile over the paths of equity, and the noise-free replay's equity.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json", out / "summary.md"]
    written[0].write_text(json.dumps(report_dict(rep), indent=2) + "\n")
    written[1].write_text(summary_markdown(rep))
    if rep.monte_carlo is not None:
        p = out / "mc_paths.csv"
        with p.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["path", *PATH_COLUMNS])
            for i, row in enumerate(rep.monte_carlo.table):
                w.writerow([i, *(f"{x:.6g}" for x in row)])
        written.append(p)
    if rep.monte_carlo is not None and rep.monte_carlo.fan is not None:
        p = out / "mc_fan.csv"
        b, fan = rep.baseline, rep.monte_carlo.fan * rep.baseline.equity[0]
        with p.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "p5", "p50", "p95", "baseline"])
            for j, day in enumerate(b.days):
                w.writerow([day.isoformat(), *(f"{x:.2f}" for x in (*fan[:, j], b.equity[j]))])
        written.append(p)
    return written
