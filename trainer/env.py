"""The portfolio environment: K portfolios of M symbols, one shared policy per symbol.

This is the job the policies are deployed for (``rl_ensemble`` and ``hybrid``): one
cash balance per portfolio, the runtime's fill and cost model, its caps (max
position, cash reserve), and a policy that acts per symbol with shared weights and
sees the portfolio as context. Every symbol slot of every portfolio is one
environment of a vectorised env (:class:`PortfolioVecEnv`), so sb3-contrib's
RecurrentPPO keeps one LSTM state per (portfolio, symbol), exactly as the runtime
keeps one per (account, symbol). Everything is numpy on arrays prepared once; one
step of all ``K * M`` slots is a handful of vectorised operations.

Observations and weights come from :mod:`invest.runtime.policy.contract`, the
module the runtime serves them from, so training and deployment cannot drift. When
the normaliser declares a market context block, each row's block (built once in
:class:`~invest.trainer.dataset.MarketArrays` by the runtime's builder) is appended to
every slot's observation, as the runtime's observer does.

Timing (the runtime's): the observation at row ``t`` is known after the close of
``t`` and shows the book filled at that close. The action fills at the close of
``t + 1`` (the sample has closes only); until then the old book drifts with the
market, and the new book earns the returns from ``t + 1`` to ``t + 2``.

Reward of symbol ``j`` for its action at ``t`` (times ``reward_scale * M``), with
``b = 1/M`` the equal-weight slot, ``w`` the new weight, ``w~`` the drifted old one,
``R`` the symbol's return over the holding period and ``s2`` its trailing daily
variance (``vol_20`` squared, known at ``t``)::

    reward_j = (w_j - b) * R_j  -  cost * |w_j - w~_j|  -  gamma/2 * (w_j**2 - b**2) * s2_j

Summed over the symbols, the first term is exactly the portfolio's return over the
equal-weight universe (cash earns 0, so sitting in cash loses the universe's
return: it is no free win), the second is the cost of the trades, and the third a
mean-variance penalty that is 0 for the equal-weight book. Holding the
equal-weight book earns 0 whatever the market does; every term uses realised
returns or trailing variances, so none can be gamed by the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from invest.runtime.brokers.fills import FillModel
from invest.runtime.features import FEATURE_NAMES
from invest.runtime.policy.contract import (
    LEVELS,
    NORM_CLIP,
    Normaliser,
    level_weights,
    raw_observations,
)

from .dataset import MarketArrays

__all__ = ["PortfolioSim", "PortfolioVecEnv", "SimSettings", "fit_normaliser", "rollout_sequence"]

_VOL = FEATURE_NAMES.index("vol_20")
_LEVELS = np.asarray(LEVELS, dtype=np.float64)


@dataclass(frozen=True)
class SimSettings:
    """What one simulated portfolio looks like (from the trainer config's ``env``)."""

    n_portfolios: int = 8
    symbols: int = 10
    episode_days: int = 252
    risk_aversion: float = 5.0
    reward_scale: float = 100.0
    budget: float = 0.95
    cap: float = 0.20
    #: Chance an episode starts from random target levels (else half cash, half equal weight).
    random_start: float = 0.7


class PortfolioSim:
    """K portfolios stepped together; each one M random symbols over a random window.

    Args:
        data: prepared market arrays (features computed once).
        rows: row range ``[lo, hi)`` episodes stay in, the returns they read included.
        normaliser: the observation statistics (fitted on the same rows).
        settings: portfolio count, size, episode length and reward parameters.
        fill_model: the runtime's cost model.
        seed: seeds the episode draws.

    Raises:
        ValueError: fewer than ``settings.symbols`` symbols have a whole valid episode.
    """

    #: Nothing to render; SB3's ``VecEnv`` asks every env for it (and warns without it).
    render_mode: str | None = None

    def __init__(
        self,
        data: MarketArrays,
        rows: tuple[int, int],
        normaliser: Normaliser,
        settings: SimSettings,
        fill_model: FillModel | None = None,
        seed: int = 0,
    ) -> None:
        if data.index_features is None:
            raise ValueError("the portfolio env needs the market index (index_symbol)")
        self._ctx = _context_rows(data, normaliser.context)
        self.s = settings
        self.norm = normaliser
        self.dim = normaliser.dim
        self.rng = np.random.default_rng(seed)
        self.cost = (fill_model or FillModel()).cost_fraction()
        k, m = settings.n_portfolios, settings.symbols
        self.k, self.m = k, m
        self._feats = data.features_raw  # (T, N, F) float64 with NaN
        self._ix = data.index_features  # (T, F)
        close = data.close
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.full_like(close, np.nan)
            ret[1:] = close[1:] / close[:-1] - 1.0
        self._ret = ret  # ret[t] = return from t-1 to t
        self._starts = _episode_starts(data.valid, rows, settings.episode_days)
        ok = [j for j, s in enumerate(self._starts) if len(s)]
        if len(ok) < m:
            lo, hi = rows
            raise ValueError(
                f"{len(ok)} symbols have {settings.episode_days + 2} valid sessions in rows "
                f"[{lo}, {hi}), fewer than the {m} symbols of a portfolio; shorten "
                "episode_days, lower env.symbols or widen the training window"
            )
        # Start rows that at least m symbols can serve, and who serves each.
        self._valid = data.valid
        self._t0_pool = np.unique(np.concatenate([self._starts[j] for j in ok]))
        self.sym = np.zeros((k, m), dtype=np.intp)
        self.t = np.zeros(k, dtype=np.intp)
        self.end = np.zeros(k, dtype=np.intp)
        self.w = np.zeros((k, m), dtype=np.float64)
        self._b = 1.0 / m
        for p in range(k):
            self._reset_one(p)

    # ------------------------------------------------------------------ episodes

    def _reset_one(self, p: int) -> None:
        e = self.s.episode_days
        for _ in range(1000):
            t0 = int(self.rng.choice(self._t0_pool))
            window = self._valid[t0 : t0 + e + 2].all(axis=0)
            cands = np.flatnonzero(window)
            if len(cands) >= self.m:
                break
        else:  # pragma: no cover - the constructor checked that starts exist
            raise RuntimeError("no start row serves a whole portfolio")
        self.sym[p] = self.rng.choice(cands, size=self.m, replace=False)
        self.t[p] = t0
        self.end[p] = t0 + e
        u = self.rng.random()
        if u < self.s.random_start:
            levels = _LEVELS[self.rng.integers(0, len(LEVELS), self.m)]
        elif u < self.s.random_start + (1 - self.s.random_start) / 2:
            levels = np.zeros(self.m)
        else:
            levels = np.ones(self.m)
        self.w[p] = level_weights(levels, self.s.budget, self.s.cap)

    # ------------------------------------------------------------------ stepping

    def observe(self, portfolios: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.float32]:
        """Normalised observations ``(K * M, dim)``, portfolio-major (or of ``portfolios``)."""
        p = np.arange(self.k) if portfolios is None else portfolios
        t, sym, w = self.t[p], self.sym[p], self.w[p]
        feats = self._feats[t[:, None], sym]  # (k, M, F)
        usable = np.ones(sym.shape, dtype=np.bool_)
        ctx = None if self._ctx is None else self._ctx[t]
        raw = raw_observations(feats, usable, self._ix[t], w, 1.0 - w.sum(axis=1), ctx)
        return self.norm.apply(raw).reshape(len(p) * self.m, self.dim)

    def step(
        self, actions: npt.NDArray[np.integer[Any]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
        """Apply one action per slot.

        Returns:
            The rewards ``(K*M,)``, which portfolios ended ``(K,)``, and the last
            observations of the ended ones ``(ended * M, dim)``. Ended portfolios
            are reset: their next observation is a new episode's.
        """
        levels = _LEVELS[np.asarray(actions).reshape(self.k, self.m)]
        target = level_weights(levels, self.s.budget, self.s.cap)
        t = self.t
        r1 = self._ret[(t + 1)[:, None], self.sym]  # the old book's drift to the fill
        r2 = self._ret[(t + 2)[:, None], self.sym]  # what the new book earns
        grown = self.w * (1.0 + r1)
        drifted = grown / (
            1.0 - self.w.sum(axis=1, keepdims=True) + grown.sum(axis=1, keepdims=True)
        )
        var = self._feats[t[:, None], self.sym, _VOL] ** 2
        b = self._b
        reward = (
            (target - b) * r2
            - self.cost * np.abs(target - drifted)
            - 0.5 * self.s.risk_aversion * (target**2 - b * b) * var
        )
        self.w = target
        self.t = t + 1
        ended = self.t >= self.end
        done = np.flatnonzero(ended)
        terminal = self.observe(done) if len(done) else np.empty((0, self.dim), np.float32)
        for p in done:
            self._reset_one(int(p))
        scale = self.s.reward_scale * self.m
        return (reward * scale).reshape(-1), ended, terminal


class PortfolioVecEnv(VecEnv):  # type: ignore[misc]
    """:class:`PortfolioSim` as a stable-baselines3 ``VecEnv`` of ``K * M`` slots.

    Time limits end episodes: such a step carries ``TimeLimit.truncated`` and the
    episode's last observation, so PPO bootstraps its value instead of treating the
    cut as the end of the world.
    """

    def __init__(self, sim: PortfolioSim) -> None:
        self.sim = sim
        obs_space = spaces.Box(-NORM_CLIP, NORM_CLIP, shape=(sim.dim,), dtype=np.float32)
        super().__init__(sim.k * sim.m, obs_space, spaces.Discrete(len(LEVELS)))
        self._actions: npt.NDArray[np.int64] | None = None
        self._ep_reward = np.zeros(self.num_envs)
        self._ep_len = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self) -> npt.NDArray[np.float32]:
        """The current observations (portfolios start their episodes at construction)."""
        return self.sim.observe()

    def step_async(self, actions: npt.NDArray[np.int64]) -> None:
        """Keep the actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> Any:
        """Step every slot; finished portfolios restart at once."""
        assert self._actions is not None
        rewards, ended, terminal = self.sim.step(self._actions)
        obs = self.sim.observe()
        dones = np.repeat(ended, self.sim.m)
        self._ep_reward += rewards
        self._ep_len += 1
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for k, i in enumerate(np.flatnonzero(dones)):
            infos[i] = {
                "terminal_observation": terminal[k],
                "TimeLimit.truncated": True,
                # What SB3's Monitor would report: the slot's episode return and length.
                "episode": {"r": float(self._ep_reward[i]), "l": int(self._ep_len[i])},
            }
            self._ep_reward[i] = 0.0
            self._ep_len[i] = 0
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The simulator's attribute, once per slot asked."""
        return [getattr(self.sim, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set a simulator attribute (shared by every slot)."""
        setattr(self.sim, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kw: Any) -> list[Any]:
        """Call a simulator method once per slot asked."""
        return [getattr(self.sim, method_name)(*args, **kw)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No gymnasium wrappers."""
        return [False] * len(self._indices(indices))

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Reseed the episode draws."""
        if seed is not None:
            self.sim.rng = np.random.default_rng(seed)
        return [seed] * self.num_envs

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


def fit_normaliser(
    data: MarketArrays, rows: tuple[int, int], samples: int = 20_000, seed: int = 0
) -> Normaliser:
    """Observation statistics of ``rows``: random valid (row, portfolio) draws, random books.

    Only the training rows are read, so the statistics carry no test-year information.
    With a context block (``data.context``), the context values are standardised over
    the drawn rows where they are known.

    Raises:
        ValueError: no usable row, or a declared context series never known in ``rows``.
    """
    if data.index_features is None:
        raise ValueError("the normaliser needs the market index (index_symbol)")
    rng = np.random.default_rng(seed)
    lo, hi = rows
    valid = data.valid[lo:hi]
    good = np.flatnonzero(valid.sum(axis=1) >= 2) + lo
    if len(good) == 0:
        raise ValueError(f"no row in [{lo}, {hi}) has two valid symbols to fit the normaliser")
    ts = rng.choice(good, size=max(1, samples // max(data.close.shape[1], 1)))
    feats = data.features_raw[ts]  # (S, N, F)
    usable = data.valid[ts]
    n = feats.shape[1]
    levels = _LEVELS[rng.integers(0, len(LEVELS), (len(ts), n))]
    w = level_weights(levels, 0.95, 1.0) * usable
    ctx = None if data.context is None else data.context[ts]
    raw = raw_observations(feats, usable, data.index_features[ts], w, 1.0 - w.sum(axis=1), ctx)
    return Normaliser.fit(raw[usable], data.context_keys)


def rollout_sequence(
    sim: PortfolioSim, steps: int, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Observations of every slot under random actions, with the episode starts marked.

    Used for the ONNX parity check: ``obs [steps, K*M, dim]`` and ``starts [steps, K*M]``.
    """
    rng = np.random.default_rng(seed)
    n = sim.k * sim.m
    obs = np.zeros((steps, n, sim.dim), dtype=np.float32)
    starts = np.zeros((steps, n), dtype=np.float32)
    starts[0] = 1.0
    for i in range(steps):
        obs[i] = sim.observe()
        _, ended, _ = sim.step(rng.integers(0, len(LEVELS), n))
        if i + 1 < steps:
            starts[i + 1] = np.repeat(ended, sim.m)
    return obs, starts


def _context_rows(data: MarketArrays, context: tuple[str, ...]) -> npt.NDArray[np.float64] | None:
    """The data's context block when the normaliser declares the same series, else None.

    Raises:
        ValueError: the normaliser and the data declare different context series.
    """
    if context != data.context_keys:
        raise ValueError(
            f"the normaliser declares context {list(context)}, the market arrays carry "
            f"{list(data.context_keys)}: build both from the same recipe"
        )
    return data.context if context else None


def _episode_starts(
    valid: npt.NDArray[np.bool_], rows: tuple[int, int], episode_days: int
) -> list[npt.NDArray[np.int64]]:
    """Per symbol, rows ``s`` such that rows ``s .. s + episode_days + 1`` are valid in ``rows``.

    The last step of an episode reads the return two rows after its observation.
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
