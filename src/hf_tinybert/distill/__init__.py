"""TinyBERT distillation: arguments, layer mapping, activation capture, losses, the trainer and its card hooks."""

from ..modeling.layer_map import build_layer_map
from .arguments import STAGES, DistillationArguments
from .callbacks import StudentCardHooks
from .capture import CapturedActivations, LayerCapture, attention_capture_support, backbone_of
from .projections import PROJECTIONS_FILE, HiddenProjections
from .trainer import DistillationTrainer

__all__ = [
    "PROJECTIONS_FILE",
    "STAGES",
    "CapturedActivations",
    "DistillationArguments",
    "DistillationTrainer",
    "HiddenProjections",
    "LayerCapture",
    "StudentCardHooks",
    "build_layer_map",
    "attention_capture_support",
    "backbone_of",
]
