"""TinyBERT students: BERT's architecture under the `tinybert` model type.

A TinyBERT student *is* a BERT encoder (the paper changes only its depth and width), so the classes
here reuse transformers' BERT implementation and only change the configuration class. That keeps
every BERT tool (attention kernels, ONNX exporters, peft) working on students, and makes the
plain-BERT export (`hf_tinybert.modeling.convert.to_plain_bert`) a relabelling of the same weights.

This file is copied next to saved students by ``save_pretrained``: it must only import from
``transformers`` and use relative imports for anything of ours.
"""

from __future__ import annotations

from transformers.models.bert.modeling_bert import (
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)

from .configuration_tinybert import TinyBertConfig

# Auto class -> model class, written into `config.auto_map` on save so that every head loads with
# `trust_remote_code=True` from the saved folder, not just the class that was saved.
TINYBERT_AUTO_MAP: dict[str, str] = {
    "AutoConfig": "configuration_tinybert.TinyBertConfig",
    "AutoModel": "modeling_tinybert.TinyBertModel",
    "AutoModelForSequenceClassification": "modeling_tinybert.TinyBertForSequenceClassification",
    "AutoModelForQuestionAnswering": "modeling_tinybert.TinyBertForQuestionAnswering",
    "AutoModelForTokenClassification": "modeling_tinybert.TinyBertForTokenClassification",
    "AutoModelForMaskedLM": "modeling_tinybert.TinyBertForMaskedLM",
}


class TinyBertPreTrainedModel(BertPreTrainedModel):
    """Base class of the TinyBERT models: BERT weights initialisation, `TinyBertConfig`."""

    config_class = TinyBertConfig
    config: TinyBertConfig
    base_model_prefix = "bert"

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Register every head in auto_map (transformers only adds the saved class) so the folder
        # loads with any AutoModelFor... and trust_remote_code=True.
        self.config.auto_map = dict(TINYBERT_AUTO_MAP)
        return super().save_pretrained(save_directory, *args, **kwargs)


class TinyBertModel(TinyBertPreTrainedModel, BertModel):
    """The bare TinyBERT encoder: embeddings, `num_hidden_layers` Transformer layers, pooler."""


class TinyBertForSequenceClassification(TinyBertPreTrainedModel, BertForSequenceClassification):
    """TinyBERT with a classifier on the pooled output; regression (MSE) when `num_labels == 1`."""


class TinyBertForQuestionAnswering(TinyBertPreTrainedModel, BertForQuestionAnswering):
    """TinyBERT with a span head (start/end logits) for extractive QA such as SQuAD."""


class TinyBertForTokenClassification(TinyBertPreTrainedModel, BertForTokenClassification):
    """TinyBERT with a per-token classifier (NER, POS tagging)."""


class TinyBertForMaskedLM(TinyBertPreTrainedModel, BertForMaskedLM):
    """TinyBERT with BERT's masked-LM head (decoder tied to the word embeddings)."""


TinyBertModel.register_for_auto_class("AutoModel")
TinyBertForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
TinyBertForQuestionAnswering.register_for_auto_class("AutoModelForQuestionAnswering")
TinyBertForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")
TinyBertForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
TinyBertConfig.register_for_auto_class("AutoConfig")

__all__ = [
    "TINYBERT_AUTO_MAP",
    "TinyBertForMaskedLM",
    "TinyBertForQuestionAnswering",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyBertModel",
    "TinyBertPreTrainedModel",
]
