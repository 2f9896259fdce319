"""The one table of prediction heads: what every part of the package knows about a model's head.

A head has one name (``"sequence-classification"``, ...) and, beside it, the class-name suffix that identifies it
(``...ForSequenceClassification``), the Auto class that loads it, our and BERT's classes, the pipeline tag and ONNX
outputs of its task, the module that holds its weights and their names in original TinyBERT checkpoints.
Conversion, the trainer, ONNX export, the model card and fine-tuning all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import transformers
from transformers import (
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

from .modeling_tinybert import (
    TinyBertForMaskedLM,
    TinyBertForQuestionAnswering,
    TinyBertForSequenceClassification,
    TinyBertForTokenClassification,
    TinyBertModel,
)


@dataclass(frozen=True)
class Head:
    """One prediction head.

    Attributes:
        name: the head's name, e.g. ``"sequence-classification"``.
        suffixes: class-name endings that mean this head (``"ForSequenceClassification"``).
        auto_class_name: the Auto class that loads it, e.g. ``"AutoModelForSequenceClassification"``.
        tinybert_class / bert_class: our class and the plain-BERT class with the same weights.
        pipeline_tag: the Hub pipeline tag (and ONNX task) of its task.
        onnx_outputs: the output names of its ONNX graph (optimum's names); empty: not exportable.
        module: the attribute that holds its weights (``"classifier"``); None for the bare encoder.
        checkpoint_prefixes: its weight names in original TinyBERT checkpoints.
    """

    name: str
    suffixes: tuple[str, ...]
    auto_class_name: str
    tinybert_class: type
    bert_class: type
    pipeline_tag: str
    onnx_outputs: tuple[str, ...] = ()
    module: str | None = None
    checkpoint_prefixes: tuple[str, ...] = ()

    @property
    def auto_class(self) -> type:
        return getattr(transformers, self.auto_class_name)

    @property
    def uses_labels(self) -> bool:
        """Whether the head is a classifier whose outputs are the config's labels."""
        return self.name in ("sequence-classification", "token-classification")


HEADS: dict[str, Head] = {
    head.name: head
    for head in (
        Head(
            "sequence-classification",
            ("ForSequenceClassification",),
            "AutoModelForSequenceClassification",
            TinyBertForSequenceClassification,
            BertForSequenceClassification,
            "text-classification",
            ("logits",),
            "classifier",
            ("classifier.",),
        ),
        Head(
            "question-answering",
            ("ForQuestionAnswering",),
            "AutoModelForQuestionAnswering",
            TinyBertForQuestionAnswering,
            BertForQuestionAnswering,
            "question-answering",
            ("start_logits", "end_logits"),
            "qa_outputs",
            ("qa_outputs.",),
        ),
        Head(
            "token-classification",
            ("ForTokenClassification",),
            "AutoModelForTokenClassification",
            TinyBertForTokenClassification,
            BertForTokenClassification,
            "token-classification",
            (),
            "classifier",
            ("classifier.",),
        ),
        Head(
            "masked-lm",
            ("ForMaskedLM", "ForPreTraining"),
            "AutoModelForMaskedLM",
            TinyBertForMaskedLM,
            BertForMaskedLM,
            "fill-mask",
            (),
            "cls",
            ("cls.predictions.",),
        ),
        Head(
            "base",
            ("Model",),
            "AutoModel",
            TinyBertModel,
            BertModel,
            "feature-extraction",
            ("last_hidden_state", "pooler_output"),
        ),
    )
}


def head_from_architecture(architecture: str | None) -> Head | None:
    """The head a class name means (``config.architectures[0]``, or a class's ``__name__``); None when it names
    none (``None`` itself means the bare encoder)."""
    if architecture is None:
        return HEADS["base"]
    for head in HEADS.values():
        if architecture.endswith(head.suffixes):
            return head
    return None


def head_of(model) -> Head:
    """The head of a model (any encoder family): the first class in its MRO named like a head
    (``DistilBertForSequenceClassification`` -> sequence classification); the bare encoder otherwise."""
    model = getattr(model, "module", model)  # DDP / DataParallel
    for cls in type(model).__mro__:
        for head in HEADS.values():
            if head.name != "base" and cls.__name__.endswith(head.suffixes):
                return head
    return HEADS["base"]


def bert_head_of(model) -> Head:
    """The head of a BERT or TinyBERT model (TinyBERT's classes derive from BERT's).

    Raises:
        ValueError: for a model of another family or class (``BertForPreTraining`` included).
    """
    head = head_of(model)
    if not isinstance(getattr(model, "module", model), head.bert_class):
        valid = ", ".join(h.bert_class.__name__ for h in HEADS.values())
        raise ValueError(
            f"Expected a BERT-family model ({valid} or their TinyBERT versions); got {type(model).__name__}"
        )
    return head


__all__ = ["HEADS", "Head", "bert_head_of", "head_from_architecture", "head_of"]
