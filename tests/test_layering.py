"""Layering: the runtime never imports torch, stable-baselines3, sb3-contrib, textual or hmmlearn.

Checked in a clean subprocess that imports every runtime module, so an import
hidden behind another module still shows up in sys.modules.
"""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "torch",
    "stable_baselines3",
    "sb3_contrib",
    "textual",
    "hmmlearn",
    "invest.trainer",
    "invest.tui",
)

PROBE = """
import importlib, pkgutil, sys
import invest.runtime as root
for mod in pkgutil.walk_packages(root.__path__, "invest.runtime."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden_roots} or m in {forbidden})
print("LOADED:" + ",".join(bad))
"""


def test_runtime_imports_no_torch_sb3_or_textual() -> None:
    roots = {f for f in FORBIDDEN if "." not in f}
    code = PROBE.format(forbidden_roots=roots, forbidden=set(FORBIDDEN))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "LOADED:", proc.stdout


def test_importing_the_cli_stays_light() -> None:
    code = "import sys, invest.runtime.cli; print(','.join(m for m in ('yfinance', 'alpaca', 'onnxruntime', 'pandas') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
