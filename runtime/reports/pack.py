"""A model pack's report: one HTML page of its manifest (``invest models show NAME --html``).

It reads the document ``invest models show NAME --json`` prints (``path``, ``ok``,
``problems``, ``sha`` and the ``manifest`` as JSON), so the page shows the same
figures: the promotion gate and its degenerate checks, the years each fold trained
on (a backtest over them is in-sample), the walk-forward bars and tables, the policies.
"""

from __future__ import annotations

from typing import Any

from invest.runtime.reports import html
from invest.runtime.reports.walkforward import WalkForward, walk_forward_parts

CHECK_HEADER = ["Check", "Value", "Limit", "Result", "What it means"]
FOLD_HEADER = ["Fold", "Trained on", "Tested on", "Embargo (sessions)"]
POLICY_HEADER = ["File", "Seed", "Fold", "sha256"]


def number(x: Any, digits: int = 4) -> str:
    """A manifest number: ints as written, floats to ``digits`` decimals, None as ``-``."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return "-" if x is None else str(x)
    return str(x) if isinstance(x, int) else f"{x:.{digits}f}"


def check_rows(checks: Any) -> list[list[str]]:
    """The gate's criteria or degenerate checks: ``{check, value, limit, passed, detail}``."""
    rows = []
    for c in checks or ():
        value = c.get("value")
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {number(v)}" for k, v in value.items()) or "-"
        else:
            shown = number(value)
        rows.append(
            [
                str(c.get("check", "?")),
                shown,
                number(c.get("limit")),
                "ok" if c.get("passed") else "FAIL",
                str(c.get("detail", "")),
            ]
        )
    return rows


def fold_rows(training: dict[str, Any] | None) -> list[list[str]]:
    """Each fold's training and test span: the sessions its policies learned from."""
    rows = []
    for w in (training or {}).get("windows") or ():
        train, test = w.get("train") or ("", ""), w.get("test") or ("", "")
        rows.append(
            [
                number(w.get("fold")),
                f"{train[0]} .. {train[1]}",
                f"{test[0]} .. {test[1]}",
                number(w.get("embargo_days")),
            ]
        )
    return rows


def in_sample_text(m: dict[str, Any]) -> str:
    """Which sessions the pack's policies trained on, in words."""
    folds = {p.get("fold") for p in m.get("policies") or ()}
    spans = [
        w["train"]
        for w in (m.get("training") or {}).get("windows") or ()
        if w.get("fold") in folds and w.get("train")
    ]
    if not spans:
        return "The manifest does not say which sessions the policies trained on."
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    return (
        f"The shipped policies (fold {', '.join(str(f) for f in sorted(folds, key=str))}) trained "
        f"on {first} .. {last}: a backtest of an account using this pack over those sessions "
        "is in-sample, and its report says so."
    )


def _facts(doc: dict[str, Any]) -> list[list[str]]:
    m = doc["manifest"]
    fs = m.get("feature_spec") or {}
    obs = m.get("observation") or {}
    lstm = m.get("lstm") or {}
    universe = m.get("universe") or {}
    status = "ok" if doc.get("ok") else "REFUSED: " + "; ".join(doc.get("problems") or ())
    rows = [
        ["Status", status],
        ["sha", str(doc.get("sha", ""))],
        ["Created", str(m.get("created") or "-")],
        ["Format", number(m.get("format"))],
        [
            "Feature spec",
            f"{fs.get('version', '-')} ({'ohlc' if fs.get('ohlc') else 'closes only'})",
        ],
        ["Observation", f"{number(obs.get('dim'))}: {', '.join(obs.get('layout') or ())}"],
        ["LSTM", f"{number(lstm.get('layers'))} x {number(lstm.get('hidden'))}"],
        ["Actions", ", ".join(m.get("actions") or ())],
    ]
    if universe:
        tickers = universe.get("tickers") or ()
        rows.append(["Universe", f"{universe.get('rule') or '-'} ({len(tickers)} tickers)"])
    if versions := m.get("versions"):
        rows.append(["Versions", ", ".join(f"{k} {v}" for k, v in versions.items())])
    return rows


def _level(x: Any) -> str:
    return f"{x:.0%}" if isinstance(x, float) else number(x)


def _promotion(pr: dict[str, Any]) -> str:
    parts = [
        html.paragraph(f"{'Passed' if pr.get('passed') else 'NOT passed'}: {pr.get('rule') or '-'}")
    ]
    if pr.get("criteria"):
        parts.append(
            html.table("gate", CHECK_HEADER, check_rows(pr["criteria"]), text_columns=(4,))
        )
    if pr.get("degenerate"):
        parts.append(html.paragraph("Degenerate checks (any failure refuses the pack):"))
        parts.append(
            html.table(
                "degenerate", CHECK_HEADER, check_rows(pr["degenerate"]), text_columns=(1, 4)
            )
        )
    if ci := pr.get("sharpe_diff_ci"):
        parts.append(
            html.paragraph(
                f"hybrid - trend_king Sharpe: {number(ci.get('estimate'))}, "
                f"{_level(ci.get('level'))} interval [{number(ci.get('low'))}, "
                f"{number(ci.get('high'))}] (block bootstrap: {number(ci.get('resamples'))} "
                f"resamples of {number(ci.get('block'))}-session blocks)"
            )
        )
    return html.section("Promotion gate", *parts, name="promotion")


def pack_html(doc: dict[str, Any]) -> str:
    """The whole page of the pack ``doc`` describes (``invest models show --json``'s document).

    Raises:
        charts.ReportsExtraMissing: matplotlib is not installed.
    """
    m = doc["manifest"]
    pr = m.get("promotion") or {}
    parts = [
        html.section(
            "The pack",
            html.table("pack", ["Field", "Value"], _facts(doc), text_columns=(1,)),
            name="pack",
        )
    ]
    if pr:
        parts.append(_promotion(pr))
    parts.append(
        html.section(
            "In-sample years",
            html.paragraph(in_sample_text(m)),
            html.table("folds", FOLD_HEADER, fold_rows(m.get("training"))),
            name="in-sample",
        )
    )
    if wf := m.get("walk_forward"):
        table = WalkForward(wf.get("columns") or (), wf.get("rows") or (), wf.get("metric") or "")
        parts.append(
            html.section(
                "Walk-forward out of sample",
                *walk_forward_parts(table, pr.get("chained")),
                name="walk-forward",
            )
        )
    policies = [
        [
            str(p.get("file")),
            number(p.get("seed")),
            number(p.get("fold")),
            str(p.get("sha256"))[:12],
        ]
        for p in m.get("policies") or ()
    ]
    blocks = [html.table("policies", POLICY_HEADER, policies)]
    if pa := m.get("parity"):
        blocks.append(
            html.paragraph(
                f"onnxruntime against torch: {number(pa.get('steps'))} steps, "
                f"{number(pa.get('resets'))} resets, max |logit diff| "
                f"{number(pa.get('max_abs_logit_diff'), 8)}, action agreement "
                f"{number(pa.get('action_agreement'))}"
            )
        )
    parts.append(html.section("Policies", *blocks, name="policies"))
    created = str(m.get("created") or "-")
    return html.page(
        f"Model pack {m.get('name', '?')}", f"{doc.get('path')}, created {created}", parts
    )
