"""TinyBERT distillation: arguments, layer mapping, activation capture, losses and the trainer."""

from .arguments import STAGES, DistillationArguments
from .capture import CapturedActivations, LayerCapture, attention_capture_support, backbone_of
from ..modeling.layer_map import build_layer_map
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
    "build_layer_map",
    "attention_capture_support",
    "backbone_of",
]
