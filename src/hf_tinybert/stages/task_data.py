"""The labelled data of one task, ready for a `Trainer`: GLUE tasks, SQuAD, or your own CSV/JSON files.

`TaskDataArguments` are the flags every task stage shares (`--task`, `--data_dir`, `--train_file`, ...);
`load_task_data` turns them into tokenised train/eval sets plus what evaluation needs (metrics, label names,
SQuAD examples for post-processing).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import DataCollatorWithPadding, default_data_collator
from transformers.utils import logging

from ..data import (
    GLUE_TASKS,
    GlueTask,
    get_glue_task,
    load_glue,
    load_squad,
    load_task_dataset,
    postprocess_qa_predictions,
    prepare_squad_eval_features,
    prepare_squad_train_features,
    split_squad_by_article,
    squad_metric_inputs,
    tokenize_glue,
)
from ..hub.card import hub_dataset_id
from ..metrics import glue_compute_metrics, load_metric
from ..modeling.heads import HEADS, Head

logger = logging.get_logger(__name__)

SQUAD_TASKS = ("squad", "squad_v2")
CUSTOM_TASK = "custom"


def did_you_mean(name: str, valid) -> str:
    """' (did you mean 'sst2'?)' for a near miss such as 'sst-2' or 'SST_2', else ''."""
    import difflib

    def key(text: str) -> str:
        return "".join(c for c in text.lower() if c.isalnum())

    by_key = {key(v): v for v in valid}
    match = by_key.get(key(name)) or next(iter(difflib.get_close_matches(name, list(valid), n=1, cutoff=0.75)), None)
    return f" (did you mean {match!r}?)" if match else ""


@dataclass
class TaskDataArguments:
    """Which task and data a stage trains and evaluates on."""

    task: str = field(
        metadata={
            "aliases": ["--task_name"],
            "help": f"A GLUE task ({', '.join(GLUE_TASKS)}), 'squad' / 'squad_v2', or 'custom' for your own "
            "CSV/JSON/TSV files (--train_file, --validation_file, --text_columns, --class_names).",
        }
    )
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Any `datasets` dataset for the task: a Hub id, a folder of data files or a save_to_disk folder "
            "(with --text_columns / --label_column when its columns are not the task's)."
        },
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "A local GLUE-format directory (<dir>/SST-2/train.tsv ...). Default: the Hub (nyu-mll/glue)."
        },
    )
    train_file: str | None = field(
        default=None,
        metadata={
            "help": "Training file: CSV/TSV/JSON/JSONL for GLUE-style and custom tasks (e.g. an augmented set "
            "written by `hf-tinybert augment`), or a SQuAD-format JSON for squad."
        },
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation file in the same format as --train_file."}
    )
    text_columns: str | None = field(
        default=None,
        metadata={"nargs": "+", "help": "Text column(s) of the data files or --dataset_name: a b, or a,b."},
    )
    label_column: str = field(default="label", metadata={"help": "Label column of --train_file/--validation_file."})
    class_names: str | None = field(
        default=None,
        metadata={
            "nargs": "+",
            "help": "Comma-separated (or space-separated) class names in label-id order for a custom task (default: the sorted distinct "
            "labels of the training file). 'regression' for a single float label.",
        },
    )
    squad_eval_articles: int = field(
        default=8,
        metadata={
            "help": "SQuAD with a single file (e.g. dev-v1.1.json and no train file): the last N articles are held "
            "out for evaluation and the rest trained on."
        },
    )
    max_seq_length: int = field(
        default=128,
        metadata={
            "help": "Longest tokenised input (64 for single sentences and 128 for pairs in the paper; 384 for SQuAD)."
        },
    )
    doc_stride: int = field(default=128, metadata={"help": "SQuAD: overlap between windows of a long context."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training examples."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N evaluation examples."})

    def __post_init__(self):
        for name in ("text_columns", "class_names"):  # both list styles: `a b` (nargs) and `a,b`
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                setattr(self, name, ",".join(str(v) for v in value))
        valid = (*GLUE_TASKS, *SQUAD_TASKS, CUSTOM_TASK)
        self.task = self.task.lower()
        if self.task not in valid:
            raise ValueError(
                f"Unknown task {self.task!r}{did_you_mean(self.task, valid)}; valid tasks are: {', '.join(valid)}"
            )
        if self.task == CUSTOM_TASK and not (self.train_file or self.validation_file or self.dataset_name):
            raise ValueError("task='custom' needs --train_file and/or --validation_file, or --dataset_name")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")


@dataclass
class TaskData:
    """Tokenised data of one task and what evaluating on it needs."""

    name: str
    kind: str  # "classification", "regression" or "question_answering"
    train: Dataset | None
    eval_sets: dict[str, Dataset]
    main_metric: str
    label_names: list[str] | None = None
    eval_examples: dict[str, Dataset] = field(default_factory=dict)  # SQuAD: examples behind eval_sets
    metric_name: str = "sst2"
    # (id, config) of the Hub dataset whose split the evaluation sets are; None when they come from local files
    hub_dataset: tuple[str, str] | None = None

    @property
    def num_labels(self) -> int:
        return len(self.label_names) if self.label_names else 1

    @property
    def head(self) -> Head:
        """The model head this task needs: question answering or sequence classification (`HEADS`)."""
        return HEADS["question-answering" if self.kind == "question_answering" else "sequence-classification"]

    def model_config_kwargs(self) -> dict[str, Any]:
        """`num_labels`, `id2label`, `label2id` (and `problem_type`) for a new model of this task."""
        if self.kind == "question_answering":
            return {}
        if self.kind == "regression":
            return {"num_labels": 1, "problem_type": "regression"}
        return {
            "num_labels": self.num_labels,
            "id2label": dict(enumerate(self.label_names)),
            "label2id": {name: i for i, name in enumerate(self.label_names)},
        }

    def card_dataset(self) -> dict[str, str] | None:
        """The evaluation data as the model card's `model-index` names it; None when it is not a Hub dataset's split
        (local files: the card names them in its text only)."""
        if self.hub_dataset is None:
            return None
        hub_id, config = self.hub_dataset
        if hub_id == "nyu-mll/glue":
            name = f"GLUE {self.name.upper()}"
        else:
            name = self.name.upper() if self.kind == "question_answering" else hub_id
        return {"id": hub_id, "name": name, "config": config, "split": next(iter(self.eval_sets))}

    def compute_metrics(self, eval_set: str = "validation") -> Callable[[Any], dict[str, float]]:
        """A `compute_metrics` for `Trainer` on `eval_set` (SQuAD: post-processes spans into answer texts)."""
        if self.kind != "question_answering":
            return glue_compute_metrics(self.metric_name)
        metric = load_metric(self.metric_name)
        examples, features = self.eval_examples[eval_set], self.eval_sets[eval_set]
        version_2 = self.name == "squad_v2"

        def compute(eval_prediction) -> dict[str, float]:
            start, end = eval_prediction[0][:2]
            answers = postprocess_qa_predictions(
                examples, features, (np.asarray(start), np.asarray(end)), version_2_with_negative=version_2
            )
            predictions, references = squad_metric_inputs(answers, examples)
            return metric.compute(predictions=predictions, references=references)

        return compute


def _first(dataset: Dataset, n: int | None) -> Dataset:
    return dataset if n is None or n >= len(dataset) else dataset.select(range(n))


def _custom_task(args: TaskDataArguments) -> GlueTask:
    if not args.text_columns:
        raise ValueError("task='custom' needs --text_columns (one column, or two comma-separated for pairs)")
    columns = tuple(c.strip() for c in args.text_columns.split(",") if c.strip())
    if args.class_names and args.class_names.strip().lower() == "regression":
        return GlueTask(
            name=CUSTOM_TASK,
            text_columns=columns,
            label_names=None,
            metric_keys=("pearson", "spearmanr"),
            main_metric="pearson",
        )
    if args.class_names:
        names = tuple(n.strip() for n in args.class_names.split(",") if n.strip())
    else:
        source = args.train_file or args.validation_file
        if source is None:
            raise ValueError(
                "task='custom' without --train_file/--validation_file needs --class_names (in label order)"
            )
        names = tuple(sorted(_distinct_labels(source, args.label_column)))
        logger.warning(f"Custom task: label order taken from the sorted labels of {source}: {list(names)}")
    return GlueTask(name=CUSTOM_TASK, text_columns=columns, label_names=names)


def _distinct_labels(path: str, column: str) -> set[str]:
    """The distinct values of `column` in a CSV (quoted), TSV (no quoting), JSON list or JSON-lines file."""
    import csv
    import json

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist")
    with open(path, encoding="utf-8-sig", newline="") as f:
        if path.endswith((".json", ".jsonl")):
            text = f.read().strip()
            rows = (
                json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
            )
        else:
            tsv = path.endswith(".tsv")
            rows = list(
                csv.DictReader(f, delimiter="\t" if tsv else ",", quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL)
            )
    if not rows:
        raise ValueError(f"{path} has no rows")
    if column not in rows[0]:
        raise ValueError(f"{path} has no label column {column!r}; its columns are {list(rows[0])}")
    return {str(row[column]) for row in rows}


def _squad_examples(args: TaskDataArguments) -> tuple[Dataset | None, Dataset]:
    version_2 = args.task == "squad_v2"
    if args.train_file and args.validation_file:
        return (
            load_squad(args.train_file, version_2_with_negative=version_2),
            load_squad(args.validation_file, version_2_with_negative=version_2),
        )
    single = args.train_file or args.validation_file
    if single:
        examples = load_squad(single, version_2_with_negative=version_2)
        articles = len(set(examples["title"]))
        if articles <= args.squad_eval_articles:
            raise ValueError(
                f"{single} has {articles} articles; cannot hold out squad_eval_articles={args.squad_eval_articles} "
                "and still train. Give --train_file and --validation_file, or lower --squad_eval_articles."
            )
        split = split_squad_by_article(examples, num_train_articles=articles - args.squad_eval_articles)
        return split["train"], split["validation"]
    hub = load_squad(None, version_2_with_negative=version_2)
    return hub["train"], hub["validation"]


def load_task_data(args: TaskDataArguments, tokenizer, *, need_train: bool = True) -> TaskData:
    """Load, subsample and tokenise the task's train and evaluation sets.

    Args:
        args: the task flags.
        tokenizer: the tokenizer of the model(s) (teacher and student share it).
        need_train: load the training split (False for `evaluate`).

    Raises:
        ValueError / FileNotFoundError: unknown task, missing files, splits or columns (from the loaders).
    """
    if args.task in SQUAD_TASKS:
        train_examples, eval_examples = _squad_examples(args)
        eval_examples = _first(eval_examples, args.max_eval_samples)
        features = prepare_squad_eval_features(eval_examples, tokenizer, args.max_seq_length, args.doc_stride)
        # Evaluation windows carry their (window-local) gold positions too, so that Trainer computes an eval loss
        # and calls compute_metrics; both feature builders cut the same windows in the same order.
        positions = prepare_squad_train_features(eval_examples, tokenizer, args.max_seq_length, args.doc_stride)
        if len(positions) != len(features):
            raise RuntimeError("SQuAD train- and eval-style features disagree on the windows")
        features = features.add_column("start_positions", positions["start_positions"])
        features = features.add_column("end_positions", positions["end_positions"])
        train = None
        if need_train:
            train_examples = _first(train_examples, args.max_train_samples)
            train = prepare_squad_train_features(train_examples, tokenizer, args.max_seq_length, args.doc_stride)
        hub_id = "rajpurkar/squad_v2" if args.task == "squad_v2" else "rajpurkar/squad"
        return TaskData(
            name=args.task,
            kind="question_answering",
            train=train,
            eval_sets={"validation": features},
            eval_examples={"validation": eval_examples},
            main_metric="f1",
            metric_name=args.task,
            hub_dataset=None if args.train_file or args.validation_file else (hub_id, "plain_text"),
        )

    task = _custom_task(args) if args.task == CUSTOM_TASK else get_glue_task(args.task)
    files = {}
    if args.dataset_name:
        text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()] if args.text_columns else None
        loaded = load_task_dataset(
            task, args.dataset_name, args.dataset_config_name, text_columns=text_columns, label_column=args.label_column
        )
        files = {"dataset": args.dataset_name}  # loaded: skip the file and folder loaders below
    if args.train_file and need_train:
        files["train"] = args.train_file
    if args.validation_file:
        files["validation"] = args.validation_file
    if args.dataset_name:
        pass
    elif files:
        text_columns = None
        if args.text_columns:
            text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
        loaded = load_glue(task, data_files=files, text_columns=text_columns, label_column=args.label_column)
        if ("train" not in files and need_train) or "validation" not in files:
            # the other split(s) from the GLUE folder or the Hub
            if args.task == CUSTOM_TASK:
                missing = [s for s in ("train", "validation") if s not in files and (s != "train" or need_train)]
                raise ValueError(f"task='custom' needs files for every split it uses; missing: {missing}")
            standard = load_glue(task, data_dir=args.data_dir)
            for split in [s for s in standard if s not in loaded]:
                loaded[split] = standard[split]
    else:
        loaded = load_glue(task, data_dir=args.data_dir)
    eval_names = [s for s in task.eval_splits if s in loaded] or [s for s in loaded if s.startswith("validation")]
    if not eval_names:
        raise ValueError(f"No validation split for task {task.name!r}; found splits: {list(loaded)}")
    train = None
    if need_train:
        if "train" not in loaded:
            raise ValueError(f"No train split for task {task.name!r}; found splits: {list(loaded)}")
        train = tokenize_glue(_first(loaded["train"], args.max_train_samples), tokenizer, task, args.max_seq_length)
    eval_sets = {
        name: tokenize_glue(_first(loaded[name], args.max_eval_samples), tokenizer, task, args.max_seq_length)
        for name in eval_names
    }
    metric_name = task.name if task.name in GLUE_TASKS else ("stsb" if task.is_regression else "sst2")
    if task.name == "mnli":
        metric_name = "mnli"
    if args.dataset_name:
        hub = hub_dataset_id(args.dataset_name) and (args.dataset_name, args.dataset_config_name or "default")
    else:  # the GLUE folder (--data_dir) or the Hub copy, unless a local --validation_file replaced it
        hub = ("nyu-mll/glue", task.name) if task.name in GLUE_TASKS and not args.validation_file else None
    return TaskData(
        name=task.name,
        kind="regression" if task.is_regression else "classification",
        train=train,
        eval_sets=eval_sets,
        main_metric=task.main_metric if task.name in GLUE_TASKS else ("pearson" if task.is_regression else "accuracy"),
        label_names=None if task.is_regression else list(task.label_names),
        metric_name=metric_name,
        hub_dataset=hub or None,
    )


def evaluate_on_task(trainer, data: TaskData) -> dict[str, float]:
    """Evaluate `trainer.model` on every evaluation set of the task; keys prefixed by the set name
    (`eval_accuracy`, or `eval_validation_matched_accuracy` ... for MNLI).

    The evaluation is in float32 whatever the training computed in: the scores are those of the model as it is saved,
    exported and served (and as `hf-tinybert evaluate` measures it); bf16 / fp16 autocast can flip borderline
    predictions. (The evaluations during training, which pick the best checkpoint, keep the training's precision.)
    """
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)  # drops accelerate's autocast forward
    metrics: dict[str, float] = {}
    original = trainer.compute_metrics
    try:
        for name, dataset in data.eval_sets.items():
            trainer.compute_metrics = data.compute_metrics(name)
            prefix = "eval" if len(data.eval_sets) == 1 else f"eval_{name}"
            metrics.update(trainer.evaluate(eval_dataset=dataset, metric_key_prefix=prefix))
    finally:
        trainer.compute_metrics = original
    return metrics


def data_collator_for(data: TaskData, tokenizer, pad_to_length: int | None = None):
    """SQuAD features are padded to max_length already; classification pads per batch, or to `pad_to_length` (the
    official code's fixed-length batches, which `mask_padding=False` distillation needs)."""
    if data.kind == "question_answering":
        return default_data_collator
    if pad_to_length is not None:
        return DataCollatorWithPadding(tokenizer, padding="max_length", max_length=pad_to_length)
    return DataCollatorWithPadding(tokenizer)


def describe(data: TaskData) -> str:
    sizes = ", ".join(f"{k}={len(v)}" for k, v in data.eval_sets.items())
    train = "none" if data.train is None else len(data.train)
    return f"task {data.name} ({data.kind}): train={train}, {sizes}"


__all__ = [
    "SQUAD_TASKS",
    "TaskData",
    "TaskDataArguments",
    "data_collator_for",
    "describe",
    "evaluate_on_task",
    "load_task_data",
]
