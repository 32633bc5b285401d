"""Build small model packs that follow docs/model-pack.md, with the onnx helper API.

Each policy is a real recurrent graph: ``episode_start`` zeroes the incoming state,
``obs`` feeds a stack of ONNX ``LSTM`` ops (explicit ``initial_h``/``initial_c``), and a
linear head turns the last hidden state into logits. Weights are random (seeded) so
that policies disagree; ``bias`` shifts one policy's logits to force its action.

Regenerate the committed fixture (needs ``onnx``)::

    python -m tests.runtime.policy.builder tests/fixtures/packs/tiny
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime import features
from invest.runtime.policy.contract import (
    ACTIONS,
    MIN_UNIVERSE,
    OBS_DIM,
    OBS_LAYOUT,
    OBS_SPEC_VERSION,
    Normaliser,
)
from invest.runtime.policy.manifest import MANIFEST_FORMAT

OPSET = 17  # onnxruntime >= 1.17 (the appliance's floor) runs it
IR_VERSION = 8


def build_policy(
    *,
    obs_dim: int = OBS_DIM,
    hidden: int = 8,
    layers: int = 1,
    seed: int = 0,
    bias: Sequence[float] = (0.0, 0.0, 0.0),
    scale: float = 0.5,
    batch: int | str = "B",
) -> bytes:
    """Serialized ONNX model of one recurrent policy with the contract's I/O.

    ``batch`` names the dynamic symbols axis; an int makes it static (a broken export).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    n_act = len(ACTIONS)
    f32 = TensorProto.FLOAT

    def init(name: str, arr: np.ndarray[Any, Any]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(arr), name)

    inits = [
        init("one", np.array(1.0, np.float32)),
        init("keep_shape", np.array([1, -1, 1], np.int64)),
        init("axis0", np.array([0], np.int64)),
        init("axis1", np.array([1], np.int64)),
        init("w_out", (rng.normal(0, 1, (hidden, n_act)) * 2).astype(np.float32)),
        init("b_out", np.asarray(bias, np.float32)),
    ]
    nodes = [
        helper.make_node("Sub", ["one", "episode_start"], ["keep"]),
        helper.make_node("Reshape", ["keep", "keep_shape"], ["keep3"]),
        helper.make_node("Mul", ["h_in", "keep3"], ["h_keep"]),
        helper.make_node("Mul", ["c_in", "keep3"], ["c_keep"]),
        helper.make_node("Unsqueeze", ["obs", "axis0"], ["x0"]),
    ]
    x, in_dim, hs, cs = "x0", obs_dim, [], []
    for layer in range(layers):
        inits += [
            init(f"start{layer}", np.array([layer], np.int64)),
            init(f"end{layer}", np.array([layer + 1], np.int64)),
            init(f"W{layer}", (rng.normal(0, scale, (1, 4 * hidden, in_dim))).astype(np.float32)),
            init(f"R{layer}", (rng.normal(0, scale, (1, 4 * hidden, hidden))).astype(np.float32)),
            init(f"B{layer}", (rng.normal(0, 0.1, (1, 8 * hidden))).astype(np.float32)),
        ]
        h_name = "h_out" if layers == 1 else f"h_out{layer}"
        c_name = "c_out" if layers == 1 else f"c_out{layer}"
        nodes += [
            helper.make_node(
                "Slice", ["h_keep", f"start{layer}", f"end{layer}", "axis0"], [f"h_init{layer}"]
            ),
            helper.make_node(
                "Slice", ["c_keep", f"start{layer}", f"end{layer}", "axis0"], [f"c_init{layer}"]
            ),
            helper.make_node(
                "LSTM",
                [x, f"W{layer}", f"R{layer}", f"B{layer}", "", f"h_init{layer}", f"c_init{layer}"],
                [f"y{layer}", h_name, c_name],
                hidden_size=hidden,
            ),
            helper.make_node("Squeeze", [f"y{layer}", "axis1"], [f"x{layer + 1}"]),
        ]
        x, in_dim = f"x{layer + 1}", hidden
        hs.append(h_name)
        cs.append(c_name)
    if layers > 1:
        nodes += [
            helper.make_node("Concat", hs, ["h_out"], axis=0),
            helper.make_node("Concat", cs, ["c_out"], axis=0),
        ]
    nodes += [
        helper.make_node("Squeeze", [x, "axis0"], ["last"]),
        helper.make_node("MatMul", ["last", "w_out"], ["z"]),
        helper.make_node("Add", ["z", "b_out"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "policy",
        [
            helper.make_tensor_value_info("obs", f32, [batch, obs_dim]),
            helper.make_tensor_value_info("h_in", f32, [layers, batch, hidden]),
            helper.make_tensor_value_info("c_in", f32, [layers, batch, hidden]),
            helper.make_tensor_value_info("episode_start", f32, [batch]),
        ],
        [
            helper.make_tensor_value_info("logits", f32, [batch, n_act]),
            helper.make_tensor_value_info("h_out", f32, [layers, batch, hidden]),
            helper.make_tensor_value_info("c_out", f32, [layers, batch, hidden]),
        ],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="invest-tests"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def manifest_dict(
    name: str,
    files: Sequence[tuple[str, str]],
    *,
    hidden: int,
    layers: int,
    normaliser: Normaliser | None = None,
) -> dict[str, Any]:
    """A complete manifest (every section of the contract) for ``files`` = (file, sha256).

    ``normaliser`` defaults to the identity (the runtime then feeds raw observations).
    """
    names = list(features.FEATURE_NAMES)
    norm = normaliser if normaliser is not None else Normaliser.identity()
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "created": "2026-01-02T00:00:00+00:00",
        "feature_spec": {
            "version": features.FEATURE_SPEC_VERSION,
            "hash": features.spec_hash(ohlc=False),
            "names": names,
            "ohlc": False,
        },
        "observation": {"dim": OBS_DIM, "layout": list(OBS_LAYOUT), "spec": OBS_SPEC_VERSION},
        "normalisation": norm.to_json(),
        "actions": list(ACTIONS),
        "lstm": {"hidden": hidden, "layers": layers},
        "policies": [
            {"file": f, "seed": i, "sha256": sha, "fold": 2021} for i, (f, sha) in enumerate(files)
        ],
        "universe": {
            "rule": "test symbols",
            "tickers": ["AAA", "BBB", "CCC"],
            "min_size": MIN_UNIVERSE,
            "episode_size": 3,
        },
        "training": {
            "windows": [
                {
                    "fold": 2021,
                    "train": ["1990-01-02", "2020-12-31"],
                    "test": ["2021-01-04", "2021-12-31"],
                    "embargo_days": 21,
                }
            ],
            "seeds": list(range(len(files))),
            "hyperparameters": {"n_steps": 128},
            "timesteps": 1000,
        },
        "walk_forward": {
            "columns": [
                "year",
                "trend_king",
                "rl_ensemble",
                "hybrid",
                "index_bh",
                "equal_weight_bh",
            ],
            "rows": [[2021, 0.1, 0.05, 0.08, 0.27, 0.3]],
            "metric": "total_return",
        },
        "promotion": {"passed": True, "rule": "test pack", "values": {}},
        "versions": {"invest": "0.1.0", "onnx": "test", "python": "3.11"},
        "parity": {"steps": 300, "resets": 3, "max_abs_logit_diff": 0.0, "action_agreement": 1.0},
    }


def build_pack(
    out: Path,
    *,
    name: str = "tiny",
    policies: int = 3,
    hidden: int = 8,
    layers: int = 1,
    biases: Sequence[Sequence[float]] | None = None,
) -> Path:
    """Write a pack directory with ``policies`` seeded LSTM policies and a correct manifest."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(policies):
        bias = biases[i] if biases is not None else (0.0, 0.0, 0.0)
        blob = build_policy(hidden=hidden, layers=layers, seed=i, bias=bias)
        f = f"policy-{i}.onnx"
        (out / f).write_bytes(blob)
        files.append((f, hashlib.sha256(blob).hexdigest()))
    manifest = manifest_dict(name, files, hidden=hidden, layers=layers)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


if __name__ == "__main__":
    build_pack(Path(sys.argv[1]))
