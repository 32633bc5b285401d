"""The policy package runs on onnxruntime alone, and only loads it when a policy runs."""

from __future__ import annotations

import subprocess
import sys

import invest.runtime.policy as policy

PROBE = """
import sys
import invest.runtime.policy as p
import invest.runtime.policy.cli
after_cli = sorted(m for m in ("numpy", "pydantic", "onnxruntime") if m in sys.modules)
for name in p.__all__:
    getattr(p, name)
import invest.runtime.strategies.rl_ensemble, invest.runtime.strategies.hybrid
bad = sorted(m for m in sys.modules
             if m.split(".")[0] in {"torch", "stable_baselines3", "sb3_contrib", "textual", "onnx"}
             or m.startswith(("invest.trainer", "invest.tui")))
print("CLI:" + ",".join(after_cli))
print("BAD:" + ",".join(bad))
print("ORT:" + str("onnxruntime" in sys.modules))
"""


def test_importing_the_policy_package_loads_no_torch_and_defers_onnxruntime() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    lines = proc.stdout.split()
    assert lines == ["CLI:", "BAD:", "ORT:False"], proc.stdout


def test_every_public_name_resolves() -> None:
    for name in policy.__all__:
        assert getattr(policy, name) is not None
    assert "Pack" in dir(policy)
