"""Invest trainer: RecurrentPPO walk-forward training and ONNX export (needs the `train` extra)."""
