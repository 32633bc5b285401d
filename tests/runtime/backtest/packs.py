"""Format-2 ensembles for the fold-replay tests: numpy stand-ins and a random-weight ONNX pack.

The ONNX pack follows docs/model-pack.md (observation spec 2, identity normalisation):
each policy is one ONNX ``LSTM`` op and a linear head, every weight drawn from
``N(0, scale)``. Small scales give near-uniform probabilities, as a freshly
initialised policy does. Building it needs ``onnx`` (the ``train`` extra).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime import features
from invest.runtime.policy.contract import (
    ACTIONS,
    OBS_DIM,
    OBS_LAYOUT,
    OBS_SPEC_VERSION,
    Normaliser,
)
from invest.runtime.policy.ensemble import StepResult

F32 = npt.NDArray[np.float32]


class ConstEnsemble:
    """Every policy gives the same logits to every symbol (a scripted ensemble)."""

    name = "const"
    layers = 1
    hidden = 2

    def __init__(self, logits: tuple[float, float, float], n_policies: int = 3) -> None:
        self.logits = np.asarray(logits, np.float32)
        self.n_policies = n_policies
        self.sha = hashlib.sha256(self.logits.tobytes()).hexdigest()
        self.normaliser = Normaliser.identity()

    def step(self, obs: F32, h: F32, c: F32, episode_start: F32) -> StepResult:
        logits = np.broadcast_to(self.logits, (self.n_policies, len(obs), len(ACTIONS)))
        return StepResult(logits.astype(np.float32), h, c)


class LinearEnsemble:
    """Random linear policies ``logits = obs @ W_p`` with ``W ~ N(0, scale)`` (no memory)."""

    name = "linear"
    layers = 1
    hidden = 2

    def __init__(self, scale: float, n_policies: int = 3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0.0, scale, (n_policies, OBS_DIM, len(ACTIONS))).astype(np.float32)
        self.n_policies = n_policies
        self.sha = hashlib.sha256(self.w.tobytes()).hexdigest()
        self.normaliser = Normaliser.identity()

    def step(self, obs: F32, h: F32, c: F32, episode_start: F32) -> StepResult:
        logits = np.einsum("bo,poa->pba", obs, self.w).astype(np.float32)
        return StepResult(logits, h, c)


def onnx_policy(*, hidden: int, seed: int, scale: float) -> bytes:
    """One recurrent policy with the contract's I/O and random weights of ``scale``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    f32 = TensorProto.FLOAT

    def init(name: str, arr: npt.ArrayLike) -> Any:
        return numpy_helper.from_array(np.asarray(arr, np.float32), name)

    inits = [
        init("one", 1.0),
        numpy_helper.from_array(np.array([1, -1, 1], np.int64), "keep_shape"),
        numpy_helper.from_array(np.array([0], np.int64), "axis0"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        init("W", rng.normal(0, scale, (1, 4 * hidden, OBS_DIM))),
        init("R", rng.normal(0, scale, (1, 4 * hidden, hidden))),
        init("Bias", rng.normal(0, scale, (1, 8 * hidden))),
        init("w_out", rng.normal(0, scale, (hidden, len(ACTIONS)))),
        init("b_out", rng.normal(0, scale, len(ACTIONS))),
    ]
    nodes = [
        helper.make_node("Sub", ["one", "episode_start"], ["keep"]),
        helper.make_node("Reshape", ["keep", "keep_shape"], ["keep3"]),
        helper.make_node("Mul", ["h_in", "keep3"], ["h0"]),
        helper.make_node("Mul", ["c_in", "keep3"], ["c0"]),
        helper.make_node("Unsqueeze", ["obs", "axis0"], ["x"]),
        helper.make_node(
            "LSTM",
            ["x", "W", "R", "Bias", "", "h0", "c0"],
            ["y", "h_out", "c_out"],
            hidden_size=hidden,
        ),
        helper.make_node("Squeeze", ["y", "axis1"], ["y1"]),
        helper.make_node("Squeeze", ["y1", "axis0"], ["last"]),
        helper.make_node("MatMul", ["last", "w_out"], ["z"]),
        helper.make_node("Add", ["z", "b_out"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "policy",
        [
            helper.make_tensor_value_info("obs", f32, ["B", OBS_DIM]),
            helper.make_tensor_value_info("h_in", f32, [1, "B", hidden]),
            helper.make_tensor_value_info("c_in", f32, [1, "B", hidden]),
            helper.make_tensor_value_info("episode_start", f32, ["B"]),
        ],
        [
            helper.make_tensor_value_info("logits", f32, ["B", len(ACTIONS)]),
            helper.make_tensor_value_info("h_out", f32, [1, "B", hidden]),
            helper.make_tensor_value_info("c_out", f32, [1, "B", hidden]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def random_pack(out: Path, *, policies: int = 3, hidden: int = 8, scale: float = 0.01) -> Path:
    """A format-2 pack of randomly initialised policies (weights ``N(0, scale)``)."""
    blobs = [onnx_policy(hidden=hidden, seed=i, scale=scale) for i in range(policies)]
    return write_pack(out, blobs, hidden=hidden)


def write_pack(out: Path, blobs: list[bytes], *, hidden: int = 8, **sections: Any) -> Path:
    """A format-2 pack of ``blobs`` (checksums right; ``sections`` added to the manifest).

    Blobs that are not ONNX make a pack that ``invest models show`` reads (it does not
    load the models) and ``verify`` refuses.
    """
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, blob in enumerate(blobs):
        (out / f"policy-{i}.onnx").write_bytes(blob)
        entries.append(
            {"file": f"policy-{i}.onnx", "sha256": hashlib.sha256(blob).hexdigest(), "seed": i}
        )
    manifest = {
        "format": 2,
        "name": out.name,
        "created": "2026-01-02T00:00:00+00:00",
        "feature_spec": {
            "version": features.FEATURE_SPEC_VERSION,
            "hash": features.spec_hash(ohlc=False),
            "names": list(features.FEATURE_NAMES),
            "ohlc": False,
        },
        "observation": {"dim": OBS_DIM, "layout": list(OBS_LAYOUT), "spec": OBS_SPEC_VERSION},
        "normalisation": Normaliser.identity().to_json(),
        "actions": list(ACTIONS),
        "lstm": {"hidden": hidden, "layers": 1},
        "policies": entries,
        "universe": {"rule": "test", "tickers": [], "min_size": 3},
        **sections,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out
