"""TinyBERT configuration, models and checkpoint conversion."""

from .configuration_tinybert import TINYBERT_PRESETS, TinyBertConfig
from .modeling_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
    TinyBertPreTrainedModel,
)

__all__ = [
    "TINYBERT_PRESETS",
    "TinyBertConfig",
    "TinyBertForMaskedLM",
    "TinyBertForQuestionAnswering",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyBertModel",
    "TinyBertPreTrainedModel",
]
