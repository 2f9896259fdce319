"""ONNX export with a self-check, and inference-speed benchmarks (PyTorch vs ONNX Runtime fp32/int8)."""

from .eval_set import EvalSet, load_eval_set
from .onnx import ONNX_TASKS, ExportResult, export_onnx, onnx_head, onnx_session, torch_to_onnx

__all__ = [
    "ONNX_TASKS",
    "EvalSet",
    "ExportResult",
    "export_onnx",
    "load_eval_set",
    "onnx_head",
    "onnx_session",
    "torch_to_onnx",
]
