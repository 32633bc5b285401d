"""Export the actor of a RecurrentPPO ``MlpLstmPolicy`` to ONNX, and prove parity.

The exported graph is one step of the actor with the LSTM state explicit (names and
shapes in ``docs/model-pack.md``)::

    obs, h_in, c_in, episode_start -> logits, h_out, c_out

It reproduces sb3-contrib's actor path: features extractor -> ``lstm_actor`` (the
states multiplied by ``1 - episode_start`` first, as ``_process_sequence`` does) ->
``mlp_extractor.forward_actor`` -> ``action_net``. :func:`check_parity` runs the torch
wrapper, sb3's own ``predict`` and onnxruntime over whole sequences with episode resets
in the middle; :func:`export_policy` refuses to leave an ONNX file that fails it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from invest.runtime.policy.ensemble import INPUTS, OUTPUTS

__all__ = [
    "INPUT_NAMES",
    "OUTPUT_NAMES",
    "OnnxActor",
    "ParityError",
    "ParityReport",
    "check_parity",
    "export_onnx",
    "export_policy",
]

#: The contract's tensor names, as the runtime feeds and reads them.
INPUT_NAMES, OUTPUT_NAMES = INPUTS, OUTPUTS
OPSET = 17
LOGIT_ATOL = 1e-4


class ParityError(RuntimeError):
    """onnxruntime does not reproduce the torch policy; the export is refused (no file left)."""


class OnnxActor(nn.Module):
    """One step of a RecurrentPPO ``MlpLstmPolicy`` actor with explicit LSTM state.

    Args:
        policy: a ``sb3_contrib`` ``RecurrentActorCriticPolicy`` with a Box observation
            and a Discrete action space.
    """

    def __init__(self, policy: Any) -> None:
        super().__init__()
        if getattr(policy, "shared_lstm", False):
            raise ValueError("shared_lstm policies are not supported; train with shared_lstm=False")
        self.features_extractor = policy.pi_features_extractor
        self.lstm = policy.lstm_actor
        self.policy_net = policy.mlp_extractor.policy_net
        self.action_net = policy.action_net
        self.n_layers = policy.lstm_actor.num_layers
        self.hidden = policy.lstm_actor.hidden_size
        self.obs_dim = int(policy.observation_space.shape[0])
        self.n_actions = int(policy.action_space.n)

    def forward(
        self, obs: torch.Tensor, h_in: torch.Tensor, c_in: torch.Tensor, episode_start: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step for a batch of B symbols.

        Args:
            obs: ``[B, obs_dim]``.
            h_in: ``[n_layers, B, hidden]``.
            c_in: ``[n_layers, B, hidden]``.
            episode_start: ``[B]``, 1.0 resets that row's state before the step.

        Returns:
            ``logits [B, n_actions]``, ``h_out`` and ``c_out`` shaped like the inputs.
        """
        features = self.features_extractor(obs.float())
        keep = (1.0 - episode_start).view(1, -1, 1)
        out, (h, c) = self.lstm(features.unsqueeze(0), (h_in * keep, c_in * keep))
        logits = self.action_net(self.policy_net(out.squeeze(0)))
        return logits, h, c


def export_onnx(policy: Any, path: Path) -> Path:
    """Write the actor of ``policy`` as ONNX (opset 17, dynamic batch axis).

    Args:
        policy: the trained ``RecurrentActorCriticPolicy``.
        path: destination ``.onnx`` file.

    Returns:
        ``path``.
    """
    actor = OnnxActor(policy).to("cpu").eval()
    b = 2
    args = (
        torch.zeros(b, actor.obs_dim),
        torch.zeros(actor.n_layers, b, actor.hidden),
        torch.zeros(actor.n_layers, b, actor.hidden),
        torch.zeros(b),
    )
    dynamic = {
        "obs": {0: "B"},
        "h_in": {1: "B"},
        "c_in": {1: "B"},
        "episode_start": {0: "B"},
        "logits": {0: "B"},
        "h_out": {1: "B"},
        "c_out": {1: "B"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript-based exporter warns about its own deprecation and about
        # LSTMs with a batch size given as an example; neither affects the graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            actor,
            args,
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


@dataclass(frozen=True)
class ParityReport:
    """Result of :func:`check_parity` (written into the manifest).

    Attributes:
        steps: sequence length checked.
        batch: symbols per step.
        resets: steps with at least one ``episode_start = 1`` after the first.
        max_abs_logit_diff: largest |torch - onnxruntime| logit difference.
        action_agreement: share of (step, symbol) where onnxruntime's argmax equals the
            torch wrapper's.
        sb3_action_agreement: share where the torch wrapper's argmax equals sb3's
            ``predict(..., deterministic=True)``.
        ties: decisions whose top-two torch logits are within ``LOGIT_ATOL`` (an argmax
            flip there is numerical noise, not a disagreement).
        passed: every check held.
    """

    steps: int
    batch: int
    resets: int
    max_abs_logit_diff: float
    action_agreement: float
    sb3_action_agreement: float
    ties: int
    passed: bool

    def to_json(self) -> dict[str, Any]:
        """The report as plain data."""
        return asdict(self)


def check_parity(
    policy: Any,
    onnx_path: Path,
    obs_seq: np.ndarray,
    starts: np.ndarray,
    *,
    atol: float = LOGIT_ATOL,
) -> ParityReport:
    """Run torch, sb3 ``predict`` and onnxruntime over one sequence and compare.

    Args:
        policy: the sb3-contrib recurrent policy.
        onnx_path: its exported actor.
        obs_seq: observations, ``[steps, B, obs_dim]`` float32.
        starts: episode starts, ``[steps, B]`` (0/1); row 0 should be all ones.
        atol: the largest allowed logit difference.

    Returns:
        The report; ``passed`` is False when any check failed.
    """
    import onnxruntime as ort

    actor = OnnxActor(policy).to("cpu").eval()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    steps, b, _ = obs_seq.shape
    shape = (actor.n_layers, b, actor.hidden)
    h_t = c_t = torch.zeros(shape)
    h_o = c_o = np.zeros(shape, dtype=np.float32)
    sb3_state = (np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32))
    max_diff, agree, sb3_agree, ties, worst = 0.0, 0, 0, 0, 0
    for t in range(steps):
        obs = np.ascontiguousarray(obs_seq[t], dtype=np.float32)
        es = np.asarray(starts[t], dtype=np.float32)
        with torch.no_grad():
            logits_t, h_t, c_t = actor(torch.from_numpy(obs), h_t, c_t, torch.from_numpy(es))
        lt = logits_t.numpy()
        lo, h_o, c_o = sess.run(
            list(OUTPUT_NAMES), {"obs": obs, "h_in": h_o, "c_in": c_o, "episode_start": es}
        )
        sb3_act, sb3_state = policy.predict(
            obs, state=sb3_state, episode_start=es.astype(bool), deterministic=True
        )
        max_diff = max(max_diff, float(np.abs(lt - lo).max()))
        top2 = np.sort(lt, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) <= atol
        a_t, a_o = lt.argmax(axis=1), lo.argmax(axis=1)
        agree += int((a_t == a_o).sum())
        sb3_agree += int((a_t == np.asarray(sb3_act).reshape(-1)).sum())
        ties += int(tie.sum())
        worst += int(((a_t != a_o) & ~tie).sum() + ((a_t != sb3_act.reshape(-1)) & ~tie).sum())
    total = steps * b
    resets = int((np.asarray(starts)[1:] > 0).any(axis=1).sum())
    return ParityReport(
        steps=steps,
        batch=b,
        resets=resets,
        max_abs_logit_diff=max_diff,
        action_agreement=agree / total,
        sb3_action_agreement=sb3_agree / total,
        ties=ties,
        passed=max_diff <= atol and worst == 0,
    )


def export_policy(policy: Any, path: Path, obs_seq: np.ndarray, starts: np.ndarray) -> ParityReport:
    """Export ``policy`` to ``path`` and keep the file only if parity holds.

    Args:
        policy: the sb3-contrib recurrent policy.
        path: destination ``.onnx`` file.
        obs_seq: parity observations ``[steps, B, obs_dim]``.
        starts: parity episode starts ``[steps, B]``.

    Returns:
        The passing parity report.

    Raises:
        ParityError: onnxruntime or sb3 disagree with the torch wrapper; the file is deleted.
    """
    was_training = policy.training
    try:
        export_onnx(policy, path)
        report = check_parity(policy, path, obs_seq, starts)
    finally:
        policy.train(was_training)
    if not report.passed:
        path.unlink(missing_ok=True)
        raise ParityError(
            f"ONNX parity failed for {path.name}: max |logit diff| "
            f"{report.max_abs_logit_diff:.2e} (limit {LOGIT_ATOL:.0e}), onnxruntime agreement "
            f"{report.action_agreement:.4f}, sb3 agreement {report.sb3_action_agreement:.4f} "
            f"over {report.steps} steps x {report.batch} symbols"
        )
    return report
