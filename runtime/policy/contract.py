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
   slot), clipped to ``[0, 4]``; ``cash``: cash over equity, in ``[0, 1]``.

Actions (``Discrete(3)``) are *target levels*, whose meaning never depends on the
state: ``OUT`` (weight 0), ``EQUAL`` (1/N) and ``OVER`` (2/N), then capped per name
and scaled down to the investable budget (:func:`level_weights`). The ensemble
averages its policies' probabilities; the expected level is the deployed target.
"""

from __future__ import annotations

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


def raw_observations(
    features: FloatArray,
    usable: BoolArray,
    index_features: FloatArray,
    weights: FloatArray,
    cash: FloatArray | float,
) -> Float32Array:
    """Observations before normalisation, for any leading batch shape.

    Args:
        features: ``(..., N, F)`` the symbols' features (NaN where missing).
        usable: ``(..., N)`` symbols with a usable bar.
        index_features: ``(..., F)`` the market index's features.
        weights: ``(..., N)`` each symbol's weight in the book (value / equity).
        cash: ``(...)`` cash over equity.

    Returns:
        ``(..., N, OBS_DIM)`` float32. A missing feature stays NaN: :meth:`Normaliser.apply`
        turns it into 0 after scaling, the training rows' mean.
    """
    n_sym = features.shape[-2]
    lead = features.shape[:-2]
    out = np.zeros((*lead, n_sym, OBS_DIM), dtype=np.float64)
    f = len(FEATURE_NAMES)
    out[..., :f] = features
    r0, m0 = f, f + len(RANKED)
    out[..., r0:m0] = cross_section_ranks(features[..., RANKED_IDX], usable)
    mkt = index_features[..., MARKET_IDX]
    out[..., m0 : m0 + len(MARKET)] = mkt[..., None, :]
    above = np.where(usable, features[..., _SMA200] > 0, False).sum(axis=-1)
    breadth = above / np.maximum(usable.sum(axis=-1), 1)
    out[..., m0 + len(MARKET)] = np.asarray(breadth)[..., None]
    out[..., -2] = np.clip(weights * n_sym, 0.0, MAX_WEIGHT_REL)
    out[..., -1] = np.clip(np.asarray(cash, dtype=np.float64), 0.0, 1.0)[..., None]
    return out.astype(np.float32)


@dataclass(frozen=True)
class Normaliser:
    """Per-dimension mean and standard deviation, frozen from the training rows.

    The trainer fits it once per fold (:meth:`fit`), writes it into the manifest,
    and the runtime applies exactly the same :meth:`apply`.
    """

    mean: Float32Array
    std: Float32Array

    @classmethod
    def identity(cls) -> Normaliser:
        """No scaling (tests; a pack always carries its own)."""
        return cls(np.zeros(OBS_DIM, np.float32), np.ones(OBS_DIM, np.float32))

    @classmethod
    def fit(cls, raw: Float32Array) -> Normaliser:
        """Statistics of ``raw`` rows ``(M, OBS_DIM)``; only :data:`STANDARDISED` dims scale.

        Raises:
            ValueError: no rows, or a wrong width.
        """
        if raw.ndim != 2 or raw.shape[1] != OBS_DIM or len(raw) == 0:
            raise ValueError(f"need rows of {OBS_DIM} observations, got shape {raw.shape}")
        mean = np.zeros(OBS_DIM, np.float64)
        std = np.ones(OBS_DIM, np.float64)
        cols = np.r_[0 : len(FEATURE_NAMES), STANDARDISED[0] : STANDARDISED[1]]
        sub = raw[:, cols].astype(np.float64)
        if not np.isfinite(sub).any(axis=0).all():
            raise ValueError("a standardised observation field has no finite value")
        mean[cols] = np.nanmean(sub, axis=0)
        sd = np.nanstd(sub, axis=0)
        std[cols] = np.where(sd > 1e-8, sd, 1.0)  # a constant column passes through centred
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def apply(self, raw: Float32Array) -> Float32Array:
        """``clip((raw - mean) / std, ±NORM_CLIP)`` as float32; NaN becomes 0 (the mean)."""
        z = (raw - self.mean) / self.std
        z = np.nan_to_num(z, nan=0.0, posinf=NORM_CLIP, neginf=-NORM_CLIP)
        out: Float32Array = np.clip(z, -NORM_CLIP, NORM_CLIP).astype(np.float32, copy=False)
        return out

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``normalisation`` section."""
        return {
            "layout": list(OBS_LAYOUT),
            "mean": [round(float(x), 7) for x in self.mean],
            "std": [round(float(x), 7) for x in self.std],
            "clip": NORM_CLIP,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Normaliser:
        """Read the manifest's ``normalisation`` section.

        Raises:
            ValueError: a layout or length that is not this spec's, a std <= 0, or a
                clip other than :data:`NORM_CLIP` (which :meth:`apply` always uses).
        """
        layout = tuple(data.get("layout", ()))
        if layout != OBS_LAYOUT:
            raise ValueError(
                f"normalisation layout ({len(layout)} fields) differs from this runtime's "
                f"observation spec {OBS_SPEC_VERSION} ({OBS_DIM} fields)"
            )
        mean = np.asarray(data["mean"], dtype=np.float32)
        std = np.asarray(data["std"], dtype=np.float32)
        if mean.shape != (OBS_DIM,) or std.shape != (OBS_DIM,):
            raise ValueError(f"normalisation mean and std need {OBS_DIM} values each")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("normalisation mean and std must be finite, with std > 0")
        clip = float(data.get("clip", NORM_CLIP))
        if clip != NORM_CLIP:
            raise ValueError(f"normalisation clip {clip} differs from this runtime's {NORM_CLIP}")
        return cls(mean, std)


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
