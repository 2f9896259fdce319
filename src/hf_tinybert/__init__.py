"""hf-tinybert: distil BERT-family teachers into small, fast TinyBERT students, the Hugging Face way.

Importing the package registers `TinyBertConfig` and the TinyBERT models with transformers' Auto
classes, so `AutoConfig` / `AutoModel*.from_pretrained` work on TinyBERT students.
"""

from .auto_registration import register_auto_classes
from .distill import DistillationArguments, DistillationTrainer
from .modeling import (
    TINYBERT_PRESETS,
    TinyBertConfig,
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
    TinyBertPreTrainedModel,
)
from .precision import PrecisionArguments

__version__ = "0.1.0"

register_auto_classes()

__all__ = [
    "DistillationArguments",
    "DistillationTrainer",
    "PrecisionArguments",
    "TINYBERT_PRESETS",
    "TinyBertConfig",
    "TinyBertForMaskedLM",
    "TinyBertForQuestionAnswering",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyBertModel",
    "TinyBertPreTrainedModel",
    "__version__",
]
