"""Single-symbol trading environment for the shared recurrent policy.

One episode is one random window of ``episode_days`` sessions of one random symbol; the
policy is shared by every symbol (see ``docs/model-pack.md``). The position is
all-or-nothing long.

Timing (the runtime's, see ``runtime/brokers/fills.py``): the observation at row ``t``
is known after the close of ``t``. The action taken there fills at the close of
``t + 1`` (the sample has closes only), so the new position earns the return from
``t + 1`` to ``t + 2``. The step moves to row ``t + 1``, whose observation already shows
the filled position (as the runtime's cycle settles fills before it decides).

Reward of the step (times ``reward_scale``), with ``g`` the log growth of the account::

    g      = in_position' * log(c[t+2] / c[t+1]) + changed * log(1 - cost)
    reward = g - lambda * (max_drawdown' - max_drawdown)

where ``cost`` is :meth:`FillModel.cost_fraction` (slippage plus commission, paid on
every change of position), ``drawdown`` is the log distance of the account below its
running peak and ``max_drawdown`` the largest drawdown so far in the episode. The
penalty telescopes: an episode's total reward is its log wealth growth minus ``lambda``
times its maximum drawdown (a Calmar-like objective). Penalising every increase of the
current drawdown instead would charge nearly every down day, which outweighs a stock's
drift and teaches the policy never to hold.

There is no bonus of any kind: staying flat earns exactly 0, every trade costs, and the
total reward is at most the log wealth growth, so the only way to earn is to hold the
symbol while it rises.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from invest.runtime.brokers.fills import FillModel
from invest.runtime.domain import Side
from invest.runtime.features import CLIP, FEATURE_NAMES
from invest.runtime.policy.manifest import ACTIONS, POSITION_FEATURES

from .dataset import MarketArrays

__all__ = ["ACTIONS", "BUY", "HOLD", "OBS_LAYOUT", "SELL", "TradingEnv", "obs_dim"]

#: Indices of the contract's actions (:data:`ACTIONS`, the runtime's).
SELL, HOLD, BUY = 0, 1, 2
#: Observation layout of the contract: the features, then three position fields.
OBS_LAYOUT: tuple[str, ...] = (*FEATURE_NAMES, *POSITION_FEATURES)
DAYS_PER_YEAR = 252.0


def obs_dim(n_features: int = len(FEATURE_NAMES)) -> int:
    """``F + 3``: features plus in_position, unrealised and days_held."""
    return n_features + len(POSITION_FEATURES)


class TradingEnv(gym.Env):
    """All-or-nothing long trading of one symbol at a time (Discrete(3): SELL, HOLD, BUY).

    Args:
        data: prepared market arrays (features are computed once, not per step).
        rows: row range ``[lo, hi)`` episodes must stay in, the rows the rewards read
            included (the training window).
        fill_model: the runtime's cost model.
        episode_days: steps per episode.
        drawdown_penalty: lambda of the reward (per unit of maximum drawdown).
        reward_scale: multiplier of the reward.
        start_in_position_prob: chance an episode starts holding the symbol.

    Raises:
        ValueError: no symbol has ``episode_days + 2`` valid sessions inside ``rows``.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's class attribute)
    # Episode state, set by _set_episode.
    _j: int
    _t: int
    _end: int
    _pos: int
    _entry_row: int
    _entry_price: float
    _wealth: float
    _peak: float
    _mdd: float

    def __init__(
        self,
        data: MarketArrays,
        rows: tuple[int, int],
        fill_model: FillModel | None = None,
        *,
        episode_days: int = 252,
        drawdown_penalty: float = 0.5,
        reward_scale: float = 100.0,
        start_in_position_prob: float = 0.0,
    ) -> None:
        super().__init__()
        fills = fill_model or FillModel()
        self._f = data.n_features
        self._dim = obs_dim(self._f)
        self.observation_space = spaces.Box(-CLIP, CLIP, shape=(self._dim,), dtype=np.float32)
        self.action_space = spaces.Discrete(3)
        self.episode_days = episode_days
        self.symbols = data.symbols
        self._lam = float(drawdown_penalty)
        self._scale = float(reward_scale)
        self._p_start_in = float(start_in_position_prob)
        self._log_keep = math.log1p(-fills.cost_fraction())
        self._buy_markup = fills.price(Side.BUY, 1.0)
        # Per-symbol contiguous arrays: (N, T, F) features, (N, T) closes and next returns.
        self._feats = np.ascontiguousarray(data.features.transpose(1, 0, 2))
        close = np.ascontiguousarray(data.close.T)
        with np.errstate(invalid="ignore", divide="ignore"):
            next_ret = np.full_like(close, np.nan)
            next_ret[:, :-1] = np.log(close[:, 1:] / close[:, :-1])
        self._close = close
        self._next_ret = next_ret
        self._days = data.days.astype(np.float64)
        self._starts = _episode_starts(data.valid, rows, episode_days)
        self._symbols_with_starts = np.flatnonzero([len(s) > 0 for s in self._starts])
        if len(self._symbols_with_starts) == 0:
            lo, hi = rows
            raise ValueError(
                f"no symbol has {episode_days + 2} valid sessions in rows [{lo}, {hi}) "
                f"({data.day(lo) if lo < len(data.dates) else lo} ..); "
                "shorten episode_days or widen the training window"
            )
        self._set_episode(int(self._symbols_with_starts[0]), int(self._starts[0][0]), False)

    # ------------------------------------------------------------------ gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: a random symbol and window (or the ones in ``options``).

        Args:
            seed: seeds the episode sampler (gymnasium semantics).
            options: ``symbol`` (index or ticker), ``start`` (row), ``in_position`` (bool)
                fix the episode instead of drawing it.
        """
        super().reset(seed=seed)
        opts = options or {}
        rng = self.np_random
        sym = opts.get("symbol")
        if sym is None:
            j = int(rng.choice(self._symbols_with_starts))
        else:
            j = self.symbols.index(sym) if isinstance(sym, str) else int(sym)
        starts = self._starts[j]
        if "start" in opts:
            start = int(opts["start"])
            if len(starts) == 0 or start not in set(starts.tolist()):
                raise ValueError(f"row {start} cannot start an episode of symbol {j}")
        else:
            start = int(starts[rng.integers(len(starts))])
        if "in_position" in opts:
            held = bool(opts["in_position"])
        else:
            held = self._p_start_in > 0 and bool(rng.random() < self._p_start_in)
        self._set_episode(j, start, held)
        return self._obs(), {"symbol": self.symbols[j], "start": start}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Decide at the current row; the fill and the return come from the next rows."""
        a = int(action)
        if a not in (SELL, HOLD, BUY):
            raise ValueError(f"action must be 0 (SELL), 1 (HOLD) or 2 (BUY), got {action!r}")
        t = self._t
        pos = self._pos
        new = pos if a == HOLD else (1 if a == BUY else 0)
        growth = 0.0
        if new != pos:
            growth = self._log_keep
            if new:
                self._entry_row = t + 1
                self._entry_price = self._c[t + 1] * self._buy_markup
        if new:
            growth += self._r[t + 1]
        self._pos = new
        self._wealth += growth
        if self._wealth > self._peak:
            self._peak = self._wealth
        dd = self._peak - self._wealth
        reward = growth
        if dd > self._mdd:
            reward -= self._lam * (dd - self._mdd)
            self._mdd = dd
        self._t = t + 1
        truncated = self._t >= self._end
        return self._obs(), reward * self._scale, False, truncated, {}

    # ------------------------------------------------------------------ internals

    def _set_episode(self, j: int, start: int, held: bool) -> None:
        self._j = j
        self._fj = self._feats[j]
        self._c = self._close[j]
        self._r = self._next_ret[j]
        self._t = start
        self._end = start + self.episode_days
        self._pos = 1 if held else 0
        self._entry_row = start
        self._entry_price = self._c[start] * self._buy_markup
        self._wealth = self._peak = self._mdd = 0.0

    def _obs(self) -> np.ndarray:
        t = self._t
        obs = np.empty(self._dim, dtype=np.float32)
        f = self._f
        obs[:f] = self._fj[t]
        if self._pos:
            unreal = self._c[t] / self._entry_price - 1.0
            held = (self._days[t] - self._days[self._entry_row]) / DAYS_PER_YEAR
            obs[f] = 1.0
            obs[f + 1] = -1.0 if unreal < -1.0 else (1.0 if unreal > 1.0 else unreal)
            obs[f + 2] = 1.0 if held > 1.0 else held
        else:
            obs[f] = obs[f + 1] = obs[f + 2] = 0.0
        return obs

    @property
    def position(self) -> int:
        """1 when the symbol is held after the last step's fill, else 0."""
        return int(self._pos)

    @property
    def row(self) -> int:
        """Row of the current observation."""
        return self._t


def _episode_starts(
    valid: np.ndarray, rows: tuple[int, int], episode_days: int
) -> list[np.ndarray]:
    """Rows ``s`` such that rows ``s .. s + episode_days + 1`` are valid and inside ``rows``.

    The last step of an episode reads the close two rows after its observation.
    """
    lo, hi = max(rows[0], 0), min(rows[1], valid.shape[0])
    need = episode_days + 2
    out = []
    for j in range(valid.shape[1]):
        v = valid[lo:hi, j].astype(np.int64)
        if len(v) < need:
            out.append(np.empty(0, dtype=np.int64))
            continue
        window = np.convolve(v, np.ones(need, dtype=np.int64), mode="valid")
        out.append(np.flatnonzero(window == need).astype(np.int64) + lo)
    return out


def random_sequence(
    data: MarketArrays,
    rows: tuple[int, int],
    steps: int,
    batch: int,
    seed: int = 0,
    fill_model: FillModel | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Observations of ``batch`` symbols driven by random actions, with staggered resets.

    Used to check ONNX parity over whole sequences: each column restarts an episode
    (``episode_start = 1``) every 60 to 100 steps, at a different step per column.

    Args:
        data: prepared market arrays.
        rows: row range the episodes stay in.
        steps: sequence length.
        batch: columns (symbols are cycled when ``batch`` exceeds them).
        seed: seeds actions and episode draws.
        fill_model: cost model (it only changes the position fields).

    Returns:
        ``obs [steps, batch, obs_dim]`` float32 and ``starts [steps, batch]`` float32.
    """
    rng = np.random.default_rng(seed)
    obs = np.zeros((steps, batch, obs_dim(data.n_features)), dtype=np.float32)
    starts = np.zeros((steps, batch), dtype=np.float32)
    for k in range(batch):
        env = TradingEnv(data, rows, fill_model, episode_days=60 + (17 * k) % 41)
        j = k % len(data.symbols)
        has_starts = len(env._starts[j]) > 0
        opts: dict[str, Any] | None = {"symbol": j} if has_starts else None
        o, _ = env.reset(seed=seed * 1000 + k, options=opts)
        starts[0, k] = 1.0
        for t in range(steps):
            obs[t, k] = o
            o, _, _, truncated, _ = env.step(int(rng.integers(3)))
            if truncated and t + 1 < steps:
                o, _ = env.reset(options=opts)
                starts[t + 1, k] = 1.0
    return obs, starts
