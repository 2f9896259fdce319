"""Registers the TinyBERT classes with transformers' Auto classes (done once, on import)."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .modeling import (
    TinyBertConfig,
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)


def register_auto_classes() -> None:
    """Make `AutoConfig`/`AutoModel*` resolve `model_type="tinybert"` to our classes. Idempotent."""
    AutoConfig.register("tinybert", TinyBertConfig, exist_ok=True)
    AutoModel.register(TinyBertConfig, TinyBertModel, exist_ok=True)
    AutoModelForSequenceClassification.register(TinyBertConfig, TinyBertForSequenceClassification, exist_ok=True)
    AutoModelForQuestionAnswering.register(TinyBertConfig, TinyBertForQuestionAnswering, exist_ok=True)
    AutoModelForTokenClassification.register(TinyBertConfig, TinyBertForTokenClassification, exist_ok=True)
    AutoModelForMaskedLM.register(TinyBertConfig, TinyBertForMaskedLM, exist_ok=True)
