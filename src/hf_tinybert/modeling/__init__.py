"""TinyBERT configuration, models, the head table, student initialisation and in-memory checkpoint conversion.

The bottom layer of the package: it imports nothing of `distill`, `hub`, `export`, `stages`, `demo` or `cli`.
Writing a student folder with its distillation projections (`convert_original_checkpoint`, `save_sliced_student`,
`save_student`) lives in `hf_tinybert.stages.students`.
"""

from .configuration_tinybert import TINYBERT_PRESETS, TinyBertConfig
from .convert import (
    OriginalCheckpoint,
    as_plain_bert,
    load_bert_family_model,
    load_original_checkpoint,
    to_plain_bert,
)
from .heads import HEADS, Head, bert_head_of, head_from_architecture, head_of
from .layer_map import LAYER_MAP_PRESETS, build_layer_map
from .modeling_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
    TinyBertPreTrainedModel,
)
from .weight_selection import select_student_weights, select_teacher_layers

__all__ = [
    "HEADS",
    "LAYER_MAP_PRESETS",
    "TINYBERT_PRESETS",
    "Head",
    "OriginalCheckpoint",
    "TinyBertConfig",
    "TinyBertForMaskedLM",
    "TinyBertForQuestionAnswering",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyBertModel",
    "TinyBertPreTrainedModel",
    "as_plain_bert",
    "bert_head_of",
    "build_layer_map",
    "head_from_architecture",
    "head_of",
    "load_bert_family_model",
    "load_original_checkpoint",
    "select_student_weights",
    "select_teacher_layers",
    "to_plain_bert",
]
