"""Model packs for the models screen: installed (INVEST_HOME/packs) and bundled.

Listing reads manifests and checksums only; the full check, which opens every
policy with onnxruntime, runs on demand (and imports onnxruntime then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from invest.runtime.paths import Paths
from invest.runtime.policy.summary import cell, summary_lines


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
        lines=summary_lines(m, report, pack_sha(m), status=False, walk_forward=False),
        wf_columns=list(wf.columns) if wf else [],
        wf_rows=[[cell(x) for x in row] for row in wf.rows] if wf else [],
        wf_metric=wf.metric if wf else "",
    )


def list_packs(paths: Paths, extra: list[Path] | None = None) -> list[PackInfo]:
    """Every pack in INVEST_HOME/packs, the bundled folder and ``extra`` folders."""
    from invest.runtime.policy.pack import bundled_packs_dir
    from invest.runtime.policy.pack import list_packs as find

    dirs = [(paths.packs, "installed"), (bundled_packs_dir(), "bundled")]
    dirs += [(d, "extra") for d in extra or []]
    return [pack_info(p, where) for d, where in dirs for p in find(d)]
