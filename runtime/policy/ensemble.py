"""Run an ensemble of recurrent ONNX policies, one step for a batch of symbols.

Each policy follows the I/O contract of ``docs/model-pack.md``: inputs ``obs``
``[B, obs_dim]``, ``h_in``/``c_in`` ``[layers, B, hidden]``, ``episode_start`` ``[B]``;
outputs ``logits`` ``[B, actions]``, ``h_out``/``c_out``. onnxruntime is imported
when the first session is created, not when this module is imported, so the CLI
and the TUI stay light.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from invest.runtime.errors import PolicyPackError
from invest.runtime.policy.contract import Normaliser
from invest.runtime.policy.pack import Pack

logger = logging.getLogger(__name__)

Float32Array = npt.NDArray[np.float32]

INPUTS = ("obs", "h_in", "c_in", "episode_start")
OUTPUTS = ("logits", "h_out", "c_out")
#: The batch (symbols) axis, which the contract requires to be dynamic.
BATCH = "B"


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of every policy.

    Attributes:
        logits: shape ``(P, B, A)``.
        h: next hidden states, shape ``(P, layers, B, hidden)``.
        c: next cell states, same shape.
    """

    logits: Float32Array
    h: Float32Array
    c: Float32Array


class Ensemble(Protocol):
    """N recurrent policies stepped together (onnxruntime here; a numpy fake in tests)."""

    @property
    def sha(self) -> str:
        """Identity of the weights; LSTM states saved under another sha are reset."""
        ...

    @property
    def name(self) -> str:
        """Name for explanation records."""
        ...

    @property
    def n_policies(self) -> int:
        """Number of policies P."""
        ...

    @property
    def layers(self) -> int:
        """LSTM layers."""
        ...

    @property
    def hidden(self) -> int:
        """LSTM hidden size."""
        ...

    @property
    def normaliser(self) -> Normaliser:
        """The observation statistics the policies were trained with."""
        ...

    def step(
        self,
        obs: Float32Array,
        h: Float32Array,
        c: Float32Array,
        episode_start: Float32Array,
    ) -> StepResult:
        """One step of every policy.

        Args:
            obs: ``(B, obs_dim)``.
            h: ``(P, layers, B, hidden)``.
            c: same shape as ``h``.
            episode_start: ``(B,)``, 1.0 resets that symbol's state before the step.
        """
        ...


def zero_state(ens: Ensemble, batch: int) -> tuple[Float32Array, Float32Array]:
    """Zero ``(h, c)`` of shape ``(P, layers, batch, hidden)``."""
    shape = (ens.n_policies, ens.layers, batch, ens.hidden)
    return np.zeros(shape, np.float32), np.zeros(shape, np.float32)


def _session_options() -> Any:
    import onnxruntime as ort  # lazy: only processes that run a policy pay for it

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: ORT's warnings are not ours to show
    return so


def _dims_ok(shape: list[Any], want: tuple[int | str, ...]) -> bool:
    """True when an ONNX shape fits ``want``: ints must match, ``"B"`` must be dynamic.

    A dim the graph leaves symbolic or unknown (a string or None) matches an int.
    """
    if len(shape) != len(want):
        return False
    for s, w in zip(shape, want, strict=True):
        if w == BATCH and isinstance(s, int):
            return False
        if isinstance(w, int) and isinstance(s, int) and s != w:
            return False
    return True


class OnnxEnsemble:
    """The policies of a :class:`Pack`, one onnxruntime session each.

    Sessions run on the CPU with one thread and sequential execution (the appliance
    is a Raspberry Pi), and are created at the first :meth:`step` (or :meth:`load`).
    """

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._sessions: list[Any] | None = None

    @property
    def sha(self) -> str:
        """The pack's sha."""
        return self.pack.sha

    @property
    def name(self) -> str:
        """The pack's name."""
        return self.pack.name

    @property
    def n_policies(self) -> int:
        """Number of policies."""
        return self.pack.n_policies

    @property
    def layers(self) -> int:
        """LSTM layers."""
        return self.pack.layers

    @property
    def hidden(self) -> int:
        """LSTM hidden size."""
        return self.pack.hidden

    @property
    def normaliser(self) -> Normaliser:
        """The pack's frozen observation statistics."""
        return self.pack.normaliser

    def load(self) -> None:
        """Create every session now and check its I/O against the contract.

        Raises:
            PolicyPackError: onnxruntime cannot load a policy, or its inputs or outputs
                differ from the contract; the message names the file.
        """
        self._ensure()

    def _ensure(self) -> list[Any]:
        if self._sessions is not None:
            return self._sessions
        import onnxruntime as ort

        so = _session_options()
        sessions = []
        for file, blob in zip(self.pack.files, self.pack.models, strict=True):
            try:
                sess = ort.InferenceSession(
                    blob, sess_options=so, providers=["CPUExecutionProvider"]
                )
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise PolicyPackError(f"{file}: onnxruntime cannot load it: {e}") from e
            self._check_io(file, sess)
            sessions.append(sess)
        self._sessions = sessions
        logger.debug("loaded %d policies of pack %s", len(sessions), self.pack.name)
        return sessions

    def _check_io(self, file: str, sess: Any) -> None:
        p = self.pack
        ins = {i.name: i.shape for i in sess.get_inputs()}
        outs = {o.name: o.shape for o in sess.get_outputs()}
        missing = [n for n in INPUTS if n not in ins] + [n for n in OUTPUTS if n not in outs]
        if missing or len(ins) != len(INPUTS):
            raise PolicyPackError(
                f"{file}: inputs {sorted(ins)} and outputs {sorted(outs)} do not follow the "
                f"pack contract (inputs {list(INPUTS)}, outputs {list(OUTPUTS)})"
            )
        state: tuple[int | str, ...] = (p.layers, BATCH, p.hidden)
        want: dict[str, tuple[Any, tuple[int | str, ...]]] = {
            "obs": (ins["obs"], (BATCH, p.obs_dim)),
            "h_in": (ins["h_in"], state),
            "c_in": (ins["c_in"], state),
            "episode_start": (ins["episode_start"], (BATCH,)),
            "logits": (outs["logits"], (BATCH, p.n_actions)),
            "h_out": (outs["h_out"], state),
            "c_out": (outs["c_out"], state),
        }
        for name, (shape, expected) in want.items():
            if not _dims_ok(list(shape), expected):
                raise PolicyPackError(
                    f"{file}: {name} has shape {shape}, the contract and manifest imply "
                    f"{list(expected)} (B, the symbols axis, dynamic)"
                )

    def step(
        self,
        obs: Float32Array,
        h: Float32Array,
        c: Float32Array,
        episode_start: Float32Array,
    ) -> StepResult:
        """One step of every policy for a batch of symbols.

        Args:
            obs: ``(B, obs_dim)`` float32.
            h: ``(P, layers, B, hidden)`` float32.
            c: same shape as ``h``.
            episode_start: ``(B,)`` float32; 1.0 resets that symbol's state.

        Returns:
            Logits ``(P, B, A)`` and the next states.

        Raises:
            PolicyPackError: a policy failed to run (bad shapes, corrupt graph).
        """
        sessions = self._ensure()
        feeds = {
            "obs": np.ascontiguousarray(obs, dtype=np.float32),
            "episode_start": np.ascontiguousarray(episode_start, dtype=np.float32),
        }
        h = np.ascontiguousarray(h, dtype=np.float32)
        c = np.ascontiguousarray(c, dtype=np.float32)
        logits, h_next, c_next = [], [], []
        for i, sess in enumerate(sessions):
            try:
                lo, ho, co = sess.run(OUTPUTS, {**feeds, "h_in": h[i], "c_in": c[i]})
            except Exception as e:  # onnxruntime's errors are translated here, once
                raise PolicyPackError(f"{self.pack.files[i]}: inference failed: {e}") from e
            logits.append(lo)
            h_next.append(ho)
            c_next.append(co)
        return StepResult(np.stack(logits), np.stack(h_next), np.stack(c_next))


def as_ensemble(pack: Pack | Ensemble) -> Ensemble:
    """An :class:`OnnxEnsemble` for a :class:`Pack`; any other :class:`Ensemble` as is."""
    return OnnxEnsemble(pack) if isinstance(pack, Pack) else pack
