"""A model pack's manifest in words: the one renderer of ``invest models show`` and the TUI.

Imports nothing heavy at run time (types only), so the CLI and the TUI can
import it when they start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invest.runtime.policy.manifest import Manifest, PromotionInfo, WalkForwardTable
    from invest.runtime.policy.pack import VerifyReport

__all__ = ["cell", "columns", "summary_lines"]


def summary_lines(
    m: Manifest,
    report: VerifyReport,
    sha: str,
    *,
    status: bool = True,
    walk_forward: bool = True,
) -> list[str]:
    """The manifest of ``report``'s pack in words, detail lines indented by two spaces.

    Args:
        m: the pack's manifest.
        report: what :func:`~invest.runtime.policy.pack.verify_pack` found (status and
            each policy's checksum).
        sha: the pack's identity (:func:`~invest.runtime.policy.pack.pack_sha`).
        status: include the ``status:`` line (the TUI shows it apart, in colour).
        walk_forward: include the walk-forward table as text (the TUI shows a table).
    """
    fs = m.feature_spec
    lines = [
        f"created {m.created.isoformat() if m.created else '-'}, format {m.format}, sha {sha[:12]}",
    ]
    if status:
        lines.append(f"status: {'ok' if report.ok else 'REFUSED: ' + report.reason}")
    lines += [
        f"feature spec {fs.version} (hash {fs.hash[:12]}, {'ohlc' if fs.ohlc else 'closes only'})",
        f"observation {m.observation.dim}: {', '.join(m.observation.layout)}",
        f"lstm {m.lstm.layers} x {m.lstm.hidden}, actions {', '.join(m.actions)}",
        f"policies ({len(m.policies)}):",
    ]
    for p, check in zip(m.policies, report.policies, strict=False):
        state = "ok" if check.ok else ("missing" if check.actual is None else "MODIFIED")
        lines.append(
            f"  {p.file}  seed {_s(p.seed)}  fold {_s(p.fold)}  sha256 {p.sha256[:12]}  {state}"
        )
    if m.universe:
        lines.append(f"universe: {m.universe.rule or '-'} ({len(m.universe.tickers)} tickers)")
    if t := m.training:
        seeds = ",".join(str(s) for s in t.seeds) or "-"
        lines.append(
            f"training: {len(t.windows)} folds, seeds {seeds}, {_s(t.timesteps)} timesteps"
        )
    if m.walk_forward and walk_forward:
        lines.append(f"walk-forward ({m.walk_forward.metric or 'metric not named'}):")
        lines += ["  " + row for row in _walk_forward(m.walk_forward).splitlines()]
    if pr := m.promotion:
        lines += _promotion(pr)
    if pa := m.parity:
        lines.append(
            f"parity: {_s(pa.steps)} steps, {_s(pa.resets)} resets, "
            f"max |logit diff| {_s(pa.max_abs_logit_diff)}, action agreement {_s(pa.action_agreement)}"
        )
    if m.versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in m.versions.items()))
    return lines


def _promotion(pr: PromotionInfo) -> list[str]:
    """The gate's verdict, its thresholds and degenerate checks, the CI and the chained figures."""
    lines = [f"promotion: {'passed' if pr.passed else 'NOT passed'} ({pr.rule or '-'})"]
    if pr.criteria:
        lines.append("gate (test years chained):")
        lines += [_check_line(c) for c in pr.criteria]
    if pr.degenerate:
        lines.append("degenerate checks (any failure refuses the pack):")
        lines += [_check_line(c) for c in pr.degenerate]
    if ci := pr.sharpe_diff_ci:
        lines.append(
            f"hybrid - trend_king Sharpe: {_num(ci.get('estimate'))}, "
            f"{_pct(ci.get('level'), signed=False, digits=0)} CI [{_num(ci.get('low'))}, "
            f"{_num(ci.get('high'))}] (block bootstrap: {_s(ci.get('resamples'))} resamples "
            f"of {_s(ci.get('block'))}-session blocks, seed {_s(ci.get('seed'))})"
        )
    if pr.chained:
        lines += _chained(pr.chained, pr.test_years, pr.validation_end)
    return lines


def _check_line(c: dict[str, Any]) -> str:
    value = c.get("value")
    if isinstance(value, dict):
        shown = ", ".join(f"{k} {_num(v)}" for k, v in value.items()) or "-"
    else:
        shown = _num(value)
    mark = "ok  " if c.get("passed") else "FAIL"
    return f"  {mark} {c.get('check', '?')}: {shown} (limit {_num(c.get('limit'))}) {c.get('detail', '')}".rstrip()


def _chained(
    chained: dict[str, Any], test_years: Sequence[int], validation_end: int | None
) -> list[str]:
    years = "-"
    if test_years:
        first, last = test_years[0], test_years[-1]
        years = str(first) if first == last else f"{first}-{last}"
    lines = [
        f"chained out of sample (test {years}; validation up to {_s(validation_end)}):",
    ]
    rows = [["SPLIT", "SERIES", "CAGR", "SHARPE", "MAX DD", "TOTAL"]]
    for split in ("test", "validation"):
        for name, f in (chained.get(split) or {}).items():
            if not isinstance(f, dict):
                continue
            rows.append(
                [
                    split,
                    name,
                    _pct(f.get("cagr")),
                    _num(f.get("sharpe"), 2),
                    _pct(f.get("max_drawdown")),
                    _pct(f.get("total_return")),
                ]
            )
    if len(rows) == 1:
        return []
    return lines + ["  " + row for row in columns(rows).splitlines()]


def _num(x: Any, digits: int = 4) -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return "-" if x is None else str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def _pct(x: Any, *, signed: bool = True, digits: int = 1) -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return "-"
    return f"{x:{'+' if signed else ''}.{digits}%}"


def _walk_forward(table: WalkForwardTable) -> str:
    if table.metric.startswith("total_return"):  # fractions, shown as percentages
        body = [
            [x if isinstance(x, str) else str(x) if isinstance(x, int) else _pct(x) for x in row]
            for row in table.rows
        ]
    else:
        body = [[cell(x) for x in row] for row in table.rows]
    return columns([list(table.columns), *body])


def cell(x: Any) -> str:
    """A manifest value as table text: floats to 4 decimals, None as ``-`` (CLI and TUI)."""
    if isinstance(x, float):
        return f"{x:.4f}"
    return "-" if x is None else str(x)


def _s(x: object) -> str:
    return "-" if x is None else str(x)


def columns(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` as left-aligned text columns, two spaces apart."""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows
    )
