"""Model packs for the models screen: installed (INVEST_HOME/packs) and bundled.

Listing reads manifests and checksums only; the full check, which opens every
policy with onnxruntime, runs on demand (and imports onnxruntime then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invest.runtime.paths import Paths
from invest.runtime.policy.cli import cell as _cell


@dataclass(frozen=True, slots=True)
class PackInfo:
    """What the models screen shows about one pack."""

    path: Path
    name: str
    policies: int | None
    spec: str
    created: str
    ok: bool
    reason: str
    where: str
    lines: list[str] = field(default_factory=list)
    wf_columns: list[str] = field(default_factory=list)
    wf_rows: list[list[str]] = field(default_factory=list)
    wf_metric: str = ""


def _lines(m: Any, sha: str) -> list[str]:
    fs = m.feature_spec
    lines = [
        f"created {m.created.isoformat() if m.created else '-'}, format {m.format}, sha {sha[:12]}",
        f"feature spec {fs.version} (hash {fs.hash[:12]}, {'ohlc' if fs.ohlc else 'closes only'})",
        f"observation {m.observation.dim}, LSTM {m.lstm.layers} x {m.lstm.hidden}, "
        f"actions {', '.join(m.actions)}",
        f"policies: {len(m.policies)} (seeds " + ", ".join(_cell(p.seed) for p in m.policies) + ")",
    ]
    if m.universe:
        lines.append(f"universe: {m.universe.rule or '-'} ({len(m.universe.tickers)} tickers)")
    if t := m.training:
        lines.append(
            f"training: {len(t.windows)} folds, seeds {','.join(map(str, t.seeds)) or '-'}, "
            f"{_cell(t.timesteps)} timesteps"
        )
    if pr := m.promotion:
        lines.append(f"promotion: {'passed' if pr.passed else 'NOT passed'} ({pr.rule or '-'})")
    if pa := m.parity:
        lines.append(
            f"parity: {_cell(pa.steps)} steps, max |logit diff| {_cell(pa.max_abs_logit_diff)}, "
            f"action agreement {_cell(pa.action_agreement)}"
        )
    if m.versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in m.versions.items()))
    return lines


def pack_info(path: Path, where: str, check_models: bool = False) -> PackInfo:
    """Read and check one pack (``check_models`` also loads it into onnxruntime)."""
    from invest.runtime.policy.pack import pack_sha, verify_pack

    report = verify_pack(path, check_models=check_models)
    m = report.manifest
    if m is None:
        return PackInfo(path, path.stem, None, "-", "-", False, report.reason, where)
    wf = m.walk_forward
    return PackInfo(
        path=path,
        name=m.name,
        policies=len(m.policies),
        spec=m.feature_spec.version,
        created=m.created.date().isoformat() if m.created else "-",
        ok=report.ok,
        reason=report.reason,
        where=where,
        lines=_lines(m, pack_sha(m)),
        wf_columns=list(wf.columns) if wf else [],
        wf_rows=[[_cell(x) for x in row] for row in wf.rows] if wf else [],
        wf_metric=wf.metric if wf else "",
    )


def list_packs(paths: Paths, extra: list[Path] | None = None) -> list[PackInfo]:
    """Every pack in INVEST_HOME/packs, the bundled folder and ``extra`` folders."""
    from invest.runtime.policy.pack import bundled_packs_dir
    from invest.runtime.policy.pack import list_packs as find

    dirs = [(paths.packs, "installed"), (bundled_packs_dir(), "bundled")]
    dirs += [(d, "extra") for d in extra or []]
    return [pack_info(p, where) for d, where in dirs for p in find(d)]
