"""Data for distillation: GLUE tasks, SQuAD, raw text corpora (see docs/data.md)."""

from .augment import AugmentationConfig, augment_dataset, augment_texts, build_candidate_sources
from .corpus import CORPUS_FORMATS, load_corpus, pack_corpus, shard_for_rank
from .glue import (
    GLUE_HUB_ID,
    GLUE_TASKS,
    GlueTask,
    check_label_order,
    get_glue_task,
    label_config_kwargs,
    load_glue,
    load_task_dataset,
    tokenize_glue,
)
from .squad import (
    SQUAD_FEATURES,
    SQUAD_HUB_ID,
    SQUAD_V2_HUB_ID,
    load_squad,
    postprocess_qa_predictions,
    prepare_squad_eval_features,
    prepare_squad_train_features,
    split_squad_by_article,
    squad_metric_inputs,
)

__all__ = [
    "AugmentationConfig",
    "augment_dataset",
    "augment_texts",
    "build_candidate_sources",
    "CORPUS_FORMATS",
    "GLUE_HUB_ID",
    "GLUE_TASKS",
    "SQUAD_FEATURES",
    "SQUAD_HUB_ID",
    "SQUAD_V2_HUB_ID",
    "GlueTask",
    "check_label_order",
    "get_glue_task",
    "label_config_kwargs",
    "load_corpus",
    "load_glue",
    "load_task_dataset",
    "load_squad",
    "pack_corpus",
    "postprocess_qa_predictions",
    "prepare_squad_eval_features",
    "prepare_squad_train_features",
    "shard_for_rank",
    "split_squad_by_article",
    "squad_metric_inputs",
    "tokenize_glue",
]
