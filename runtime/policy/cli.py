"""``invest models list|show|verify``: model packs from the command line.

Only :func:`add_models_commands` runs when ``invest`` starts; each handler imports
what it needs, so ``invest --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest.runtime.errors import PolicyPackError
from invest.runtime.paths import Paths

if TYPE_CHECKING:
    from invest.runtime.policy.manifest import Manifest, PromotionInfo, WalkForwardTable
    from invest.runtime.policy.pack import VerifyReport


def add_models_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``invest models ...`` (each leaf sets ``handler``)."""
    p = sub.add_parser("models", help="model packs: list, show, verify")
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="list the installed and bundled packs")
    ls.add_argument("--dir", help="list this directory instead")
    ls.set_defaults(handler=models_list)
    show = msub.add_parser("show", help="summarise a pack's manifest and walk-forward results")
    show.add_argument("pack", help="pack name (INVEST_HOME/packs, bundled) or path")
    show.add_argument("--json", action="store_true", help="print the manifest and checks as JSON")
    show.set_defaults(handler=models_show)
    ver = msub.add_parser(
        "verify", help="check checksums, feature spec and ONNX I/O; exit 1 if bad"
    )
    ver.add_argument("pack", help="pack name (INVEST_HOME/packs, bundled) or path")
    ver.set_defaults(handler=models_verify)


def models_list(args: argparse.Namespace, paths: Paths) -> int:
    """``invest models list``: one line per pack, with its status."""
    from invest.runtime.policy.pack import bundled_packs_dir, list_packs, verify_pack

    dirs = [Path(args.dir)] if args.dir else [paths.packs, bundled_packs_dir()]
    found = list_packs(*dirs)
    if not found:
        print(f"no model packs in {' or '.join(str(d) for d in dirs)}")
        return 0
    rows = [["PACK", "POLICIES", "SPEC", "CREATED", "STATUS", "PATH"]]
    for path in found:
        r = verify_pack(path, check_models=False)
        m = r.manifest
        rows.append(
            [
                m.name if m else path.stem,
                str(len(m.policies)) if m else "-",
                m.feature_spec.version if m else "-",
                m.created.date().isoformat() if m and m.created else "-",
                "ok" if r.ok else "REFUSED",
                str(path),
            ]
        )
    print(_columns(rows))
    return 0


def models_show(args: argparse.Namespace, paths: Paths) -> int:
    """``invest models show PACK``: the manifest in words, walk-forward table included.

    Raises:
        PolicyPackError: no such pack, or its manifest cannot be read.
    """
    from invest.runtime.policy.pack import pack_sha, resolve_pack, verify_pack

    report = verify_pack(resolve_pack(args.pack, paths.packs), check_models=False)
    m = report.manifest
    if m is None:
        raise PolicyPackError(f"model pack {report.path}: {report.reason}")
    sha = pack_sha(m)
    if args.json:
        doc = {
            "path": str(report.path),
            "ok": report.ok,
            "problems": list(report.problems),
            "sha": sha,
            "manifest": m.model_dump(mode="json"),
        }
        print(json.dumps(doc, indent=2))
        return 0
    print("\n".join(_summary(m, report, sha)))
    return 0


def models_verify(args: argparse.Namespace, paths: Paths) -> int:
    """``invest models verify PACK``: exit 0 when usable, else 1 with a one-line reason."""
    from invest.runtime.policy.pack import pack_sha, resolve_pack, verify_pack

    try:
        path = resolve_pack(args.pack, paths.packs)
    except PolicyPackError as e:
        print(f"{args.pack}: FAILED: {e}")
        return 1
    report = verify_pack(path)
    m = report.manifest
    if not report.ok or m is None:
        print(f"{path}: FAILED: {report.reason}")
        return 1
    print(
        f"{path}: OK: {m.name}, {len(m.policies)} policies (sha256 verified), feature spec "
        f"{m.feature_spec.version} matches, ONNX I/O follows the contract, sha {pack_sha(m)[:12]}"
    )
    return 0


def _summary(m: Manifest, report: VerifyReport, sha: str) -> list[str]:
    fs = m.feature_spec
    lines = [
        f"pack {m.name}  ({report.path})",
        f"  created {m.created.isoformat() if m.created else '-'}, format {m.format}, sha {sha[:12]}",
        f"  status: {'ok' if report.ok else 'REFUSED: ' + report.reason}",
        f"  feature spec {fs.version} (hash {fs.hash[:12]}, {'ohlc' if fs.ohlc else 'closes only'})",
        f"  observation {m.observation.dim}: {', '.join(m.observation.layout)}",
        f"  lstm {m.lstm.layers} x {m.lstm.hidden}, actions {', '.join(m.actions)}",
        f"  policies ({len(m.policies)}):",
    ]
    for p, check in zip(m.policies, report.policies, strict=False):
        state = "ok" if check.ok else ("missing" if check.actual is None else "MODIFIED")
        lines.append(
            f"    {p.file}  seed {_s(p.seed)}  fold {_s(p.fold)}  sha256 {p.sha256[:12]}  {state}"
        )
    if m.universe:
        lines.append(f"  universe: {m.universe.rule or '-'} ({len(m.universe.tickers)} tickers)")
    if t := m.training:
        seeds = ",".join(str(s) for s in t.seeds) or "-"
        lines.append(
            f"  training: {len(t.windows)} folds, seeds {seeds}, {_s(t.timesteps)} timesteps"
        )
    if m.walk_forward:
        lines.append(f"  walk-forward ({m.walk_forward.metric or 'metric not named'}):")
        lines += ["    " + row for row in _walk_forward(m.walk_forward).splitlines()]
    if pr := m.promotion:
        lines += _promotion(pr)
    if pa := m.parity:
        lines.append(
            f"  parity: {_s(pa.steps)} steps, {_s(pa.resets)} resets, "
            f"max |logit diff| {_s(pa.max_abs_logit_diff)}, action agreement {_s(pa.action_agreement)}"
        )
    if m.versions:
        lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in m.versions.items()))
    return lines


def _promotion(pr: PromotionInfo) -> list[str]:
    """The gate's verdict, its thresholds and degenerate checks, the CI and the chained figures."""
    lines = [f"  promotion: {'passed' if pr.passed else 'NOT passed'} ({pr.rule or '-'})"]
    if pr.criteria:
        lines.append("  gate (test years chained):")
        lines += [_check_line(c) for c in pr.criteria]
    if pr.degenerate:
        lines.append("  degenerate checks (any failure refuses the pack):")
        lines += [_check_line(c) for c in pr.degenerate]
    if ci := pr.sharpe_diff_ci:
        lines.append(
            f"  hybrid - trend_king Sharpe: {_num(ci.get('estimate'))}, "
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
    return f"    {mark} {c.get('check', '?')}: {shown} (limit {_num(c.get('limit'))}) {c.get('detail', '')}".rstrip()


def _chained(
    chained: dict[str, Any], test_years: Sequence[int], validation_end: int | None
) -> list[str]:
    years = "-"
    if test_years:
        first, last = test_years[0], test_years[-1]
        years = str(first) if first == last else f"{first}-{last}"
    lines = [
        f"  chained out of sample (test {years}; validation up to {_s(validation_end)}):",
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
    return lines + ["    " + row for row in _columns(rows).splitlines()]


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
    return _columns([list(table.columns), *body])


def cell(x: Any) -> str:
    """A manifest value as table text: floats to 4 decimals, None as ``-`` (CLI and TUI)."""
    if isinstance(x, float):
        return f"{x:.4f}"
    return "-" if x is None else str(x)


def _s(x: object) -> str:
    return "-" if x is None else str(x)


def _columns(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows
    )
