"""The policy contract shared by the trainer and the runtime (observation spec 2).

One policy is shared by every symbol of a portfolio: it acts per symbol, with its
own LSTM state per symbol, and sees the portfolio as context. A pack trained on
one universe therefore serves another of any size (within the manifest's
``universe.min_size``). Everything both sides must compute identically lives
here, in numpy, so that training and deployment cannot drift apart:

* :func:`cross_section_ranks`: each symbol's rank within the usable universe;
* :func:`raw_observations`: the observation before normalisation;
* :class:`Normaliser`: statistics frozen from the training rows, applied by both;
* :func:`level_weights`: target levels to portfolio weights (caps and budget).

Observation layout (``OBS_LAYOUT``, ``OBS_DIM = 27``), per symbol at row ``t``:

1. the 14 features of :data:`~invest.runtime.features.FEATURE_NAMES`;
2. ``xs_*``: ranks of five of them across the universe's usable symbols, in
   ``[-1, 1]`` (0 is the median; universe-size free);
3. ``mkt_*``: five features of the market index (the account's regime index)
   and ``mkt_breadth``, the share of usable universe symbols above their 200-day
   average, the same for every symbol;
4. ``weight_rel``: the symbol's weight in the book times N (1.0 = an equal-weight
   slot), clipped to ``[0, 4]``; ``cash``: cash over equity, in ``[0, 1]``;
5. only when the pack declares a market context block (``observation.context`` in its
   manifest, e.g. ``("vix", "us10y", "dollar")``): per declared series ``ctx_<key>``,
   the series' lagged value made scale-free (:data:`CONTEXT_TRANSFORMS`, standardised
   with the training rows' statistics like the market fields), and
   ``ctx_<key>_known``, 1.0 when that value is known and 0.0 when not (the value is then
   NaN, which :meth:`Normaliser.apply` turns into 0, the training mean): a policy sees a
   missing context as missing, not as a value. The same for every symbol. A pack that
   declares no context has exactly the 27 fields above, byte for byte
   (:func:`context_spec_hash` leaves its feature hash as it was).

Actions (``Discrete(3)``) are *target levels*, whose meaning never depends on the
state: ``OUT`` (weight 0), ``EQUAL`` (1/N) and ``OVER`` (2/N), then capped per name
and scaled down to the investable budget (:func:`level_weights`). The ensemble
averages its policies' probabilities; the expected level is the deployed target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.features import FEATURE_NAMES

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Version of the observation layout and action semantics below.
OBS_SPEC_VERSION = "2"
#: Features ranked across the universe.
RANKED: tuple[str, ...] = ("ret_21", "mom_126", "ram_126_20", "vol_20", "dist_sma_200")
#: Features of the market index given to every symbol.
MARKET: tuple[str, ...] = ("ret_21", "vol_20", "mom_126", "dist_sma_200", "drawdown_252")
#: Portfolio fields, last in the observation.
PORTFOLIO: tuple[str, ...] = ("weight_rel", "cash")
OBS_LAYOUT: tuple[str, ...] = (
    *FEATURE_NAMES,
    *(f"xs_{n}" for n in RANKED),
    *(f"mkt_{n}" for n in MARKET),
    "mkt_breadth",
    *PORTFOLIO,
)
OBS_DIM = len(OBS_LAYOUT)
#: Dimensions standardised with the training rows' statistics (features and market);
#: ranks and portfolio fields have a fixed scale and pass through.
STANDARDISED = len(FEATURE_NAMES) + len(RANKED), len(FEATURE_NAMES) + len(RANKED) + len(MARKET) + 1
#: Action names by index, and the target level of each in units of 1/N.
ACTIONS: tuple[str, ...] = ("OUT", "EQUAL", "OVER")
LEVELS: tuple[float, ...] = (0.0, 1.0, 2.0)
#: Normalised observations are clipped to this many standard deviations.
NORM_CLIP = 5.0
#: ``weight_rel`` is clipped to this many equal-weight slots.
MAX_WEIGHT_REL = 4.0
#: The smallest universe a pack serves: ranks and 1/N slots need a cross-section.
MIN_UNIVERSE = 3

#: Market context series a pack may declare (:mod:`invest.runtime.context`'s keys, in its
#: column order), and how each lagged close becomes an observation value. Scale-free: a
#: level ratio in logs for the VIX (20 is about its long-run median), changes over
#: :data:`CONTEXT_WINDOW` sessions for the yield (whose level drifts over decades) and
#: the dollar index (whose level means nothing by itself).
CONTEXT_SERIES: tuple[str, ...] = ("vix", "us10y", "dollar")
CONTEXT_WINDOW = 20
CONTEXT_TRANSFORMS: Mapping[str, str] = {
    "vix": "log(VIX / 20)",
    "us10y": f"yield minus its value {CONTEXT_WINDOW} sessions earlier, percentage points",
    "dollar": f"log(dollar index / its value {CONTEXT_WINDOW} sessions earlier)",
}
#: Version of the context block's transforms (part of :func:`context_spec_hash`).
CONTEXT_SPEC_VERSION = "1"
#: Context values are clipped to this, as the features are (``features.CLIP``).
CONTEXT_CLIP = 10.0

_FEATURE_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}
RANKED_IDX = np.array([_FEATURE_INDEX[n] for n in RANKED], dtype=np.intp)
MARKET_IDX = np.array([_FEATURE_INDEX[n] for n in MARKET], dtype=np.intp)
_SMA200 = _FEATURE_INDEX["dist_sma_200"]
_LEVELS = np.asarray(LEVELS, dtype=np.float64)


def cross_section_ranks(x: FloatArray, usable: BoolArray) -> FloatArray:
    """Rank of each symbol among the usable ones with a finite value, mapped to ``[-1, 1]``.

    Args:
        x: ``(..., N, K)`` values (NaN allowed).
        usable: ``(..., N)``; unusable symbols get 0 and do not count.

    Returns:
        ``(..., N, K)``: ``2 * rank / (n - 1) - 1`` over the ``n`` counted symbols, ties
        broken by position; 0 for a symbol not counted, or when fewer than two count.
    """
    valid = usable[..., None] & np.isfinite(x)
    order = np.argsort(np.where(valid, x, np.inf), axis=-2, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[-2])[:, None], axis=-2)
    n = valid.sum(axis=-2, keepdims=True).astype(np.float64)
    scaled = np.where(n > 1, 2.0 * ranks / np.maximum(n - 1.0, 1.0) - 1.0, 0.0)
    return np.where(valid, scaled, 0.0)


def check_context(context: Sequence[str]) -> tuple[str, ...]:
    """``context`` as a tuple, checked: known series (:data:`CONTEXT_SERIES`), none twice.

    Raises:
        ValueError: an unknown or repeated series, in one line that lists the known ones.
    """
    keys = tuple(context)
    unknown = [k for k in keys if k not in CONTEXT_SERIES]
    if unknown or len(set(keys)) != len(keys):
        what = f"unknown {unknown}" if unknown else f"a repeated series in {list(keys)}"
        raise ValueError(
            f"context: {what}; choose distinct series among {', '.join(CONTEXT_SERIES)}"
        )
    return keys


def context_layout(context: Sequence[str]) -> tuple[str, ...]:
    """The context block's field names: ``ctx_<key>``, ``ctx_<key>_known`` per series."""
    return tuple(name for k in context for name in (f"ctx_{k}", f"ctx_{k}_known"))


def obs_layout(context: Sequence[str] = ()) -> tuple[str, ...]:
    """The observation layout of a pack declaring ``context`` (:data:`OBS_LAYOUT` without)."""
    return OBS_LAYOUT + context_layout(context) if context else OBS_LAYOUT


def context_spec_hash(feature_hash: str, context: Sequence[str]) -> str:
    """The feature spec hash of a pack: ``feature_hash`` itself without a context block,
    else SHA-256 over it and the block's definition (series, transforms, window, version),
    so that a change to a transform refuses the packs trained on the old one."""
    if not context:
        return feature_hash
    block = {
        "features": feature_hash,
        "context": {
            "series": list(context),
            "transforms": {k: CONTEXT_TRANSFORMS[k] for k in context},
            "window": CONTEXT_WINDOW,
            "clip": CONTEXT_CLIP,
            "lag": "last close strictly before the session (invest.runtime.context)",
            "version": CONTEXT_SPEC_VERSION,
        },
    }
    canonical = json.dumps(block, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def context_features(values: FloatArray, context: Sequence[str]) -> FloatArray:
    """The context block of every row from the lagged context closes.

    The runtime's observer and the trainer's dataset both call this on
    :func:`invest.runtime.context.context_table` values: one code path.

    Args:
        values: ``(T, len(context))`` each declared series' lagged close by row (a
            :class:`~invest.runtime.context.ContextTable` column), NaN where unknown.
        context: the declared series, in block order.

    Returns:
        ``(T, 2 * len(context))`` float64: per series the transformed value (NaN where it
        or the close :data:`CONTEXT_WINDOW` rows before is unknown), clipped to
        ``±CONTEXT_CLIP``, then 1.0 where that value is known, else 0.0. Row ``t`` reads
        rows ``t - CONTEXT_WINDOW`` and ``t`` only.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(context):
        raise ValueError(f"need (rows, {len(context)}) context values, got shape {v.shape}")
    w = CONTEXT_WINDOW
    before = np.full_like(v, np.nan)
    if len(v) > w:
        before[w:] = v[:-w]
    out = np.zeros((len(v), 2 * len(context)), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, key in enumerate(check_context(context)):
            x = v[:, j]
            if key == "vix":
                y = np.log(x / 20.0)
            elif key == "us10y":
                y = x - before[:, j]
            else:
                y = np.log(x / before[:, j])
            known = np.isfinite(y)
            out[:, 2 * j] = np.where(known, np.clip(y, -CONTEXT_CLIP, CONTEXT_CLIP), np.nan)
            out[:, 2 * j + 1] = known
    return out


def raw_observations(
    features: FloatArray,
    usable: BoolArray,
    index_features: FloatArray,
    weights: FloatArray,
    cash: FloatArray | float,
    context: FloatArray | None = None,
) -> Float32Array:
    """Observations before normalisation, for any leading batch shape.

    Args:
        features: ``(..., N, F)`` the symbols' features (NaN where missing).
        usable: ``(..., N)`` symbols with a usable bar.
        index_features: ``(..., F)`` the market index's features.
        weights: ``(..., N)`` each symbol's weight in the book (value / equity).
        cash: ``(...)`` cash over equity.
        context: ``(..., C)`` the rows' context block (:func:`context_features`), the
            same for every symbol; None for a pack without one.

    Returns:
        ``(..., N, OBS_DIM + C)`` float32. A missing feature stays NaN:
        :meth:`Normaliser.apply` turns it into 0 after scaling, the training rows' mean.
    """
    n_sym = features.shape[-2]
    lead = features.shape[:-2]
    extra = 0 if context is None else context.shape[-1]
    out = np.zeros((*lead, n_sym, OBS_DIM + extra), dtype=np.float64)
    f = len(FEATURE_NAMES)
    out[..., :f] = features
    r0, m0 = f, f + len(RANKED)
    out[..., r0:m0] = cross_section_ranks(features[..., RANKED_IDX], usable)
    mkt = index_features[..., MARKET_IDX]
    out[..., m0 : m0 + len(MARKET)] = mkt[..., None, :]
    above = np.where(usable, features[..., _SMA200] > 0, False).sum(axis=-1)
    breadth = above / np.maximum(usable.sum(axis=-1), 1)
    out[..., m0 + len(MARKET)] = np.asarray(breadth)[..., None]
    out[..., OBS_DIM - 2] = np.clip(weights * n_sym, 0.0, MAX_WEIGHT_REL)
    out[..., OBS_DIM - 1] = np.clip(np.asarray(cash, dtype=np.float64), 0.0, 1.0)[..., None]
    if context is not None:
        out[..., OBS_DIM:] = np.asarray(context, dtype=np.float64)[..., None, :]
    return out.astype(np.float32)


@dataclass(frozen=True)
class Normaliser:
    """Per-dimension mean and standard deviation, frozen from the training rows.

    The trainer fits it once per fold (:meth:`fit`), writes it into the manifest,
    and the runtime applies exactly the same :meth:`apply`. ``context`` is the pack's
    declared context block (empty: the 27 fields of :data:`OBS_LAYOUT` only).
    """

    mean: Float32Array
    std: Float32Array
    context: tuple[str, ...] = ()

    @property
    def layout(self) -> tuple[str, ...]:
        """The observation layout these statistics are for."""
        return obs_layout(self.context)

    @property
    def dim(self) -> int:
        """Observation length."""
        return len(self.layout)

    @classmethod
    def identity(cls, context: Sequence[str] = ()) -> Normaliser:
        """No scaling (tests; a pack always carries its own)."""
        n = len(obs_layout(context))
        return cls(np.zeros(n, np.float32), np.ones(n, np.float32), check_context(context))

    @classmethod
    def fit(cls, raw: Float32Array, context: Sequence[str] = ()) -> Normaliser:
        """Statistics of ``raw`` rows ``(M, dim)``; features, market fields and context
        values scale (over their known rows), ranks, the book and the flags pass through.

        Raises:
            ValueError: no rows, a wrong width, or a scaled field never known (a context
                series the training rows never have, named).
        """
        keys = check_context(context)
        layout = obs_layout(keys)
        dim = len(layout)
        if raw.ndim != 2 or raw.shape[1] != dim or len(raw) == 0:
            raise ValueError(f"need rows of {dim} observations, got shape {raw.shape}")
        mean = np.zeros(dim, np.float64)
        std = np.ones(dim, np.float64)
        cols = np.r_[
            0 : len(FEATURE_NAMES),
            STANDARDISED[0] : STANDARDISED[1],
            OBS_DIM:dim:2,  # the context values, not their flags
        ]
        sub = raw[:, cols].astype(np.float64)
        seen = np.isfinite(sub).any(axis=0)
        if not seen.all():
            never = [layout[int(c)] for c in cols[~seen]]
            raise ValueError(
                f"observation field(s) {', '.join(never)} have no finite value in the "
                "training rows: drop that context series or train on rows where it is known"
            )
        mean[cols] = np.nanmean(sub, axis=0)
        sd = np.nanstd(sub, axis=0)
        std[cols] = np.where(sd > 1e-8, sd, 1.0)  # a constant column passes through centred
        return cls(mean.astype(np.float32), std.astype(np.float32), keys)

    def apply(self, raw: Float32Array) -> Float32Array:
        """``clip((raw - mean) / std, ±NORM_CLIP)`` as float32; NaN becomes 0 (the mean)."""
        z = (raw - self.mean) / self.std
        z = np.nan_to_num(z, nan=0.0, posinf=NORM_CLIP, neginf=-NORM_CLIP)
        out: Float32Array = np.clip(z, -NORM_CLIP, NORM_CLIP).astype(np.float32, copy=False)
        return out

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``normalisation`` section."""
        return {
            "layout": list(self.layout),
            "mean": [round(float(x), 7) for x in self.mean],
            "std": [round(float(x), 7) for x in self.std],
            "clip": NORM_CLIP,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], context: Sequence[str] = ()) -> Normaliser:
        """Read the manifest's ``normalisation`` section of a pack declaring ``context``.

        Raises:
            ValueError: a layout or length that is not this spec's, a std <= 0, or a
                clip other than :data:`NORM_CLIP` (which :meth:`apply` always uses).
        """
        keys = check_context(context)
        want = obs_layout(keys)
        dim = len(want)
        layout = tuple(data.get("layout", ()))
        if layout != want:
            raise ValueError(
                f"normalisation layout ({len(layout)} fields) differs from this runtime's "
                f"observation spec {OBS_SPEC_VERSION} ({dim} fields)"
            )
        mean = np.asarray(data["mean"], dtype=np.float32)
        std = np.asarray(data["std"], dtype=np.float32)
        if mean.shape != (dim,) or std.shape != (dim,):
            raise ValueError(f"normalisation mean and std need {dim} values each")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("normalisation mean and std must be finite, with std > 0")
        clip = float(data.get("clip", NORM_CLIP))
        if clip != NORM_CLIP:
            raise ValueError(f"normalisation clip {clip} differs from this runtime's {NORM_CLIP}")
        return cls(mean, std, keys)


def softmax(logits: Float32Array) -> FloatArray:
    """Row-wise softmax over the last axis (float64); non-finite rows become uniform."""
    x = np.asarray(logits, dtype=np.float64)
    ok = np.isfinite(x).all(axis=-1, keepdims=True)
    x = np.where(ok, x, 0.0)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float64)


def expected_level(probs: FloatArray) -> FloatArray:
    """``(..., A)`` action probabilities -> ``(...)`` expected target level."""
    return np.asarray(probs @ _LEVELS, dtype=np.float64)


def level_weights(levels: FloatArray, budget: float, cap: float) -> FloatArray:
    """Target weights from target levels, for any leading batch shape.

    Each level is in units of an equal-weight slot (``1/N``, with ``N`` the last
    axis); the weight is capped at ``cap`` per name, and the whole book is scaled
    down to ``budget`` (1 minus the cash reserve) when it asks for more.

    Args:
        levels: ``(..., N)`` levels in ``[0, 2]`` (an action's or an expectation).
        budget: the investable share of equity.
        cap: the largest weight of one name.
    """
    n = levels.shape[-1]
    w = np.minimum(np.clip(levels, 0.0, LEVELS[-1]) / max(n, 1), cap)
    total = w.sum(axis=-1, keepdims=True)
    scale = np.where(total > budget, budget / np.maximum(total, 1e-12), 1.0)
    return np.asarray(w * scale, dtype=np.float64)


def universe_problem(symbols: Sequence[str], min_size: int = MIN_UNIVERSE) -> str | None:
    """Why a pack cannot serve ``symbols`` (one line), or None."""
    if len(symbols) < min_size:
        return (
            f"the RL policies rank symbols against each other and need a universe of at "
            f"least {min_size} symbols; this one has {len(symbols)} ({', '.join(symbols)})"
        )
    return None
