"""``invest models list|show|verify``: model packs from the command line.

Only :func:`add_models_commands` runs when ``invest`` starts; each handler imports
what it needs, so ``invest --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest.runtime.errors import ConfigError, PolicyPackError
from invest.runtime.paths import Paths
from invest.runtime.policy.summary import columns, summary_lines

if TYPE_CHECKING:
    from invest.runtime.policy.manifest import Manifest


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
    show.add_argument(
        "--html",
        action="store_true",
        help="also write the pack's report page (gate, in-sample years, walk-forward bars)",
    )
    show.add_argument(
        "--out",
        help="with --html: the page's path (default INVEST_HOME/reports/pack-NAME/report.html)",
    )
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
    rows = [["PACK", "POLICIES", "SPEC", "CREATED", "STATUS", "GATE", "PATH"]]
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
                gate_verdict(m),
                str(path),
            ]
        )
    print(columns(rows))
    return 0


def gate_verdict(m: Manifest | None) -> str:
    """The promotion gate's verdict recorded in the manifest: passed, failed or not judged.

    ``ok`` in STATUS only says the files are intact; a pack that failed its gate is
    usable in paper accounts but refused by real-money ones, so the list says which.
    """
    if m is None or m.promotion is None:
        return "not judged"
    return "passed" if m.promotion.passed else "failed"


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
    doc = {
        "path": str(report.path),
        "ok": report.ok,
        "problems": list(report.problems),
        "sha": sha,
        "manifest": m.model_dump(mode="json"),
    }
    if args.html:
        _write_html(
            doc,
            Path(args.out)
            if args.out
            else paths.home / "reports" / f"pack-{m.name}" / "report.html",
        )
    elif args.out:
        raise ConfigError("--out needs --html (it names the page's file)")
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    lines = [f"pack {m.name}  ({report.path})"]
    print("\n".join(lines + ["  " + line for line in summary_lines(m, report, sha)]))
    return 0


def _write_html(doc: dict[str, Any], out: Path) -> None:
    """Write the pack's report page; without matplotlib say how to get it (stderr)."""
    from invest.runtime.reports.charts import ReportsExtraMissing
    from invest.runtime.reports.html import write_file
    from invest.runtime.reports.pack import pack_html

    try:
        text = pack_html(doc)
    except ReportsExtraMissing as e:
        print(f"no report.html: {e}", file=sys.stderr)
        return
    write_file(out, text)
    print(f"wrote {out}", file=sys.stderr)


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
