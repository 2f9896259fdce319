"""The models the task stages load: a model with the task's head, its labels checked against the task's."""

from __future__ import annotations

from transformers import AutoConfig

from ..data import check_label_order
from ..modeling.heads import HEADS, head_from_architecture
from .task_data import TaskData


def load_model_for_task(path: str, data: TaskData):
    """A model with the task's head (sequence classification or QA) and label names; checks label order."""
    if data.kind == "question_answering":
        return data.head.auto_class.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    classifier = HEADS["sequence-classification"]
    if not any(head_from_architecture(a) is classifier for a in config.architectures or []):
        # a bare encoder's default 2 labels say nothing: it gets a new head
        return classifier.auto_class.from_pretrained(path, **data.model_config_kwargs())
    check_label_order(data.label_names, config)
    if getattr(config, "num_labels", None) not in (None, data.num_labels):
        raise ValueError(
            f"{path} is a classifier with num_labels={config.num_labels}, but task {data.name!r} has "
            f"{data.num_labels} labels"
        )
    return classifier.auto_class.from_pretrained(path, **data.model_config_kwargs())


__all__ = ["load_model_for_task"]
