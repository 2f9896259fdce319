"""hf-tinybert: distil BERT-family teachers into small, fast TinyBERT students, the Hugging Face way.

Importing the package registers `TinyBertConfig` and the TinyBERT models with transformers' Auto
classes, so `AutoConfig` / `AutoModel*.from_pretrained` work on TinyBERT students.
"""

from . import modeling
from .auto_registration import register_auto_classes
from .distill import DistillationArguments, DistillationTrainer
from .hub.card import ModelCardCallback as _ModelCardCallback
from .modeling import *  # noqa: F403  (the config and presets, the models, the in-memory conversions)
from .precision import PrecisionArguments
from .stages.students import convert_original_checkpoint, save_sliced_student, save_student

__version__ = "0.1.0"

register_auto_classes()

# The composition root: the trainer writes its card and publishes through the hub's callback (distill imports no hub).
DistillationTrainer.default_card_hooks = _ModelCardCallback.for_trainer

__all__ = [
    *modeling.__all__,
    "DistillationArguments",
    "DistillationTrainer",
    "PrecisionArguments",
    "__version__",
    "convert_original_checkpoint",
    "save_sliced_student",
    "save_student",
]
