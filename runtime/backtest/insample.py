"""Which sessions of a replay an account's model pack was trained on.

A backtest of an RL account over years its policies were trained on measures how well
they learned those years, not how they trade: ``invest backtest``, ``invest demo`` and
``invest robustness`` say so before their results. The training span is the union of
the ``train`` ranges (``training.windows[]``) of the folds whose policies the pack
ships (``policies[].fold``); see docs/model-pack.md. Only those manifest fields are
read, and their absence is tolerated: policies that name no fold count every window,
and a pack that records no window gets a note that the span is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from invest.runtime.config import AccountConfig
from invest.runtime.errors import PolicyPackError
from invest.runtime.policy.manifest import Manifest
from invest.runtime.policy.pack import resolve_pack, verify_pack

#: Strategies that run a model pack.
PACK_STRATEGIES = ("rl_ensemble", "hybrid")

Span = tuple[date, date]


def training_spans(manifest: Manifest) -> tuple[list[Span], bool]:
    """The sessions ``manifest``'s policies were trained on, as merged ``[first, last]`` spans.

    Returns:
        The spans (sorted, overlapping or touching ones merged; empty when the manifest
        records no usable ``train`` range), and whether every window was counted because
        no policy names its fold.
    """
    windows = manifest.training.windows if manifest.training is not None else ()
    folds = {str(p.fold) for p in manifest.policies if p.fold is not None}
    spans: list[Span] = []
    for w in windows:
        if w.train is None or (folds and str(w.fold) not in folds):
            continue
        try:
            first, last = (date.fromisoformat(d) for d in w.train)
        except ValueError:
            continue
        if first <= last:
            spans.append((first, last))
    return _merge(spans), not folds


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for first, last in sorted(spans):
        if out and first.toordinal() <= out[-1][1].toordinal() + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _text(spans: Sequence[Span]) -> str:
    return ", ".join(f"{a}..{b}" for a, b in spans)


def pack_manifest(account: AccountConfig, packs_dir: Path | None = None) -> Manifest | None:
    """The manifest of the account's pack (``rl.pack``), or None when it cannot be read.

    A pack that cannot be found or read is left to the strategy, which refuses it with
    the reason; the manifest is read even when the pack fails another check.
    """
    try:
        path = resolve_pack(account.rl.pack, packs_dir)
    except PolicyPackError:
        return None
    return verify_pack(path, check_models=False).manifest


def in_sample_notes(
    account: AccountConfig,
    start: date,
    end: date,
    packs_dir: Path | None = None,
    manifest: Manifest | None = None,
) -> list[str]:
    """Notes for a replay of ``account`` from ``start`` to ``end`` (inclusive).

    Args:
        account: the account; only ``rl_ensemble`` and ``hybrid`` run a pack.
        start: first replayed session.
        end: last replayed session.
        packs_dir: INVEST_HOME/packs, searched before the bundled packs.
        manifest: the pack's manifest, when the caller has it (else it is read).

    Returns:
        One line when the replay overlaps the pack's training span (or the pack does
        not record it), naming the span; empty otherwise and for rule-based accounts.
    """
    if account.strategy not in PACK_STRATEGIES:
        return []
    manifest = manifest or pack_manifest(account, packs_dir)
    if manifest is None:
        return []
    spans, every_window = training_spans(manifest)
    name = manifest.name
    if not spans:
        return [
            f"model pack {name} records no training window: which of {start}..{end} it "
            "was trained on is unknown, so these results may be in-sample"
        ]
    if not any(a <= end and start <= b for a, b in spans):
        return []
    later = "only later sessions" if len(spans) == 1 else "only sessions outside them"
    how = (
        "its policies name no fold, so every training window counts"
        if every_window
        else "trained on them"
    )
    return [
        f"{_text(spans)} are in-sample for model pack {name} ({how}); {later} are out of sample"
    ]


def notes_for_spans(
    account: AccountConfig, spans: Iterable[Span], packs_dir: Path | None = None
) -> list[str]:
    """:func:`in_sample_notes` over several replayed spans (a robustness run), once each."""
    if account.strategy not in PACK_STRATEGIES:
        return []
    manifest = pack_manifest(account, packs_dir)
    if manifest is None:
        return []
    out: list[str] = []
    for start, end in spans:
        for note in in_sample_notes(account, start, end, packs_dir, manifest):
            if note not in out:
                out.append(note)
    return out
