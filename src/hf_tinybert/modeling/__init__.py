"""TinyBERT configuration, models and checkpoint conversion."""

from .configuration_tinybert import TINYBERT_PRESETS, TinyBertConfig
from .convert import (
    DISTILL_PROJECTIONS_FILE,
    as_plain_bert,
    convert_original_checkpoint,
    init_student_from_teacher,
    load_distill_projections,
    load_original_checkpoint,
    save_distill_projections,
    save_student,
    select_teacher_layers,
    to_plain_bert,
)
from .modeling_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
    TinyBertPreTrainedModel,
)
from .weight_selection import save_sliced_student, select_student_weights

__all__ = [
    "DISTILL_PROJECTIONS_FILE",
    "TINYBERT_PRESETS",
    "TinyBertConfig",
    "TinyBertForMaskedLM",
    "TinyBertForQuestionAnswering",
    "TinyBertForSequenceClassification",
    "TinyBertForTokenClassification",
    "TinyBertModel",
    "TinyBertPreTrainedModel",
    "as_plain_bert",
    "convert_original_checkpoint",
    "init_student_from_teacher",
    "load_distill_projections",
    "load_original_checkpoint",
    "save_distill_projections",
    "save_sliced_student",
    "select_student_weights",
    "save_student",
    "select_teacher_layers",
    "to_plain_bert",
]
