"""Model packs: the policy contract, manifest, verification, the onnxruntime ensemble, LSTM state.

Names are loaded on first use (PEP 562), so that ``invest --help`` and the TUI, which
import :mod:`invest.runtime.policy.cli`, do not pay for numpy, pydantic or onnxruntime.
onnxruntime itself is imported only when the first policy session is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invest.runtime.policy.contract import ACTIONS, LEVELS, Normaliser
    from invest.runtime.policy.ensemble import (
        Ensemble,
        OnnxEnsemble,
        StepResult,
        as_ensemble,
        zero_state,
    )
    from invest.runtime.policy.manifest import Manifest
    from invest.runtime.policy.observe import OBS_DIM, Observation, Observer
    from invest.runtime.policy.pack import (
        Pack,
        PolicyCheck,
        VerifyReport,
        bundled_packs_dir,
        list_packs,
        load_pack,
        resolve_pack,
        verify_pack,
    )
    from invest.runtime.policy.signal import Decisions, PolicySignal
    from invest.runtime.policy.state import (
        LedgerStateStore,
        LstmState,
        MemoryStateStore,
        StateSpec,
        StateStore,
    )
    from invest.runtime.policy.vote import NO_VOTE, Action, Vote, combine

__all__ = [
    "ACTIONS",
    "LEVELS",
    "NO_VOTE",
    "OBS_DIM",
    "Action",
    "Decisions",
    "Ensemble",
    "LedgerStateStore",
    "LstmState",
    "Manifest",
    "MemoryStateStore",
    "Normaliser",
    "Observation",
    "Observer",
    "OnnxEnsemble",
    "Pack",
    "PolicyCheck",
    "PolicySignal",
    "StateSpec",
    "StateStore",
    "StepResult",
    "VerifyReport",
    "Vote",
    "as_ensemble",
    "bundled_packs_dir",
    "combine",
    "list_packs",
    "load_pack",
    "resolve_pack",
    "verify_pack",
    "zero_state",
]

# Submodule of each public name, for the lazy loader below.
_MODULES: dict[str, tuple[str, ...]] = {
    "ensemble": (
        "Ensemble",
        "OnnxEnsemble",
        "StepResult",
        "as_ensemble",
        "zero_state",
    ),
    "contract": (
        "ACTIONS",
        "LEVELS",
        "Normaliser",
    ),
    "manifest": ("Manifest",),
    "observe": (
        "OBS_DIM",
        "Observation",
        "Observer",
    ),
    "pack": (
        "Pack",
        "PolicyCheck",
        "VerifyReport",
        "bundled_packs_dir",
        "list_packs",
        "load_pack",
        "resolve_pack",
        "verify_pack",
    ),
    "signal": (
        "Decisions",
        "PolicySignal",
    ),
    "state": (
        "LedgerStateStore",
        "LstmState",
        "MemoryStateStore",
        "StateSpec",
        "StateStore",
    ),
    "vote": (
        "NO_VOTE",
        "Action",
        "Vote",
        "combine",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
