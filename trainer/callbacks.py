"""SB3 callbacks: per-policy metrics files and progress reporting (STYLE rule 16)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["METRIC_COLUMNS", "MetricsCallback", "ProgressCallback", "ProgressSink"]

METRIC_COLUMNS = ("timesteps", "fps", "ep_rew_mean", "ep_len_mean", "episodes", "elapsed_s")


class ProgressSink(Protocol):
    """Where progress goes: a ``multiprocessing`` queue proxy or an in-process adapter."""

    def put(self, item: Any) -> None:
        """Receive ``(job_key, new_timesteps)``."""


class MetricsCallback(BaseCallback):
    """Append one row per rollout to ``metrics.csv`` and write ``metrics.json`` at the end.

    Columns: timesteps, fps (since the start of training), mean episode reward and length
    over SB3's last 100 episodes (NaN before the first finished episode), episodes
    finished, and elapsed seconds.

    Args:
        out_dir: the policy's run folder.
    """

    def __init__(self, out_dir: Path) -> None:
        super().__init__(verbose=0)
        self.out_dir = Path(out_dir)
        self.rows: list[dict[str, float]] = []
        self._t0 = 0.0
        self._episodes = 0

    def _on_training_start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.perf_counter()
        with (self.out_dir / "metrics.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow(METRIC_COLUMNS)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "episode" in info:
                self._episodes += 1
        return True

    def _on_rollout_end(self) -> None:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        buf = list(self.model.ep_info_buffer or [])
        row = {
            "timesteps": float(self.num_timesteps),
            "fps": self.num_timesteps / elapsed,
            "ep_rew_mean": float(np.mean([e["r"] for e in buf])) if buf else float("nan"),
            "ep_len_mean": float(np.mean([e["l"] for e in buf])) if buf else float("nan"),
            "episodes": float(self._episodes),
            "elapsed_s": elapsed,
        }
        self.rows.append(row)
        with (self.out_dir / "metrics.csv").open("a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([f"{row[c]:.6g}" for c in METRIC_COLUMNS])

    def _on_training_end(self) -> None:
        last = self.rows[-1] if self.rows else {}
        summary = {
            "timesteps": int(self.num_timesteps),
            "elapsed_s": time.perf_counter() - self._t0,
            "fps": last.get("fps"),
            "ep_rew_mean": _finite_or_none(last.get("ep_rew_mean")),
            "episodes": self._episodes,
            "rollouts": [{k: _finite_or_none(v) for k, v in r.items()} for r in self.rows],
        }
        (self.out_dir / "metrics.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


class ProgressCallback(BaseCallback):
    """Report new timesteps to a sink after every rollout (drives the parent's progress bar).

    Args:
        sink: receives ``(key, new_timesteps)``; None disables reporting.
        key: identifies the job in the sink.
    """

    def __init__(self, sink: ProgressSink | None, key: str) -> None:
        super().__init__(verbose=0)
        self.sink = sink
        self.key = key
        self._reported = 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self._flush()

    def _on_training_end(self) -> None:
        self._flush()

    def _flush(self) -> None:
        new = self.num_timesteps - self._reported
        if self.sink is not None and new > 0:
            self.sink.put((self.key, new))
        self._reported = self.num_timesteps


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
