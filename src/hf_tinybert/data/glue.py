"""GLUE tasks: their label tables, loading from the Hub or local files, label-order checks and tokenisation.

Every loader returns the columns of the Hub's `nyu-mll/glue` dataset (for example `premise`, `hypothesis`,
`label`, `idx` for MNLI), with `label` a `ClassLabel` whose names follow `GLUE_TASKS[task].label_names`
(`-1` on unlabelled test splits) or a float for STS-B. Local sources are a GLUE-format folder (the layout
of the official `download_glue_data.py`: `<dir>/SST-2/train.tsv`, `<dir>/MNLI/dev_matched.tsv`, ...) or
plain CSV / TSV / JSON / JSON-lines files with named text and label columns.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from transformers.utils import logging

from .arrow_cache import file_signature, rows_to_cached_dataset

logger = logging.get_logger(__name__)

#: The Hub dataset the GLUE tasks are loaded from when no local source is given.
GLUE_HUB_ID = "nyu-mll/glue"

_STANDARD_SPLIT_FILES = (("train", "train.tsv"), ("validation", "dev.tsv"), ("test", "test.tsv"))
_DATA_FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl")


@dataclass(frozen=True)
class GlueTask:
    """What the code needs to know about one sentence(-pair) classification or regression task.

    The nine GLUE tasks are in `GLUE_TASKS`; build a `GlueTask` for your own task to use the same loaders
    and tokenisation on CSV/JSON files (only `name`, `text_columns` and `label_names` are needed then).

    Attributes:
        name: the task's name (the `nyu-mll/glue` config name for GLUE tasks).
        text_columns: the one or two text columns, in the order they are fed to the tokenizer.
        label_names: class names in label-id order, or `None` for a regression task (one float label).
        metric_keys: the keys the task's metric returns.
        main_metric: the metric to select checkpoints with (TinyBERT reports F1 for MRPC/QQP, Spearman
            for STS-B, Matthews correlation for CoLA and accuracy for the rest).
        folder: the task's folder in a GLUE-format directory (`"SST-2"`).
        split_files: `(split, file name)` pairs: the Hub split names and the matching local TSV files.
        tsv_text_columns: header names of the text columns in the local TSV files.
        tsv_label_column: header name of the label column in the local TSV files.
        tsv_columns_without_header: column names of local TSV files that have no header row (CoLA's
            train/dev files), else `None`.
    """

    name: str
    text_columns: tuple[str, ...]
    label_names: tuple[str, ...] | None
    metric_keys: tuple[str, ...] = ("accuracy",)
    main_metric: str = "accuracy"
    folder: str = ""
    split_files: tuple[tuple[str, str], ...] = _STANDARD_SPLIT_FILES
    tsv_text_columns: tuple[str, ...] | None = None
    tsv_label_column: str = "label"
    tsv_columns_without_header: tuple[str, ...] | None = None

    def __post_init__(self):
        if len(self.text_columns) not in (1, 2):
            raise ValueError(f"a task has 1 or 2 text columns, got {self.text_columns!r} for task {self.name!r}")
        if self.label_names is not None and len(self.label_names) < 2:
            raise ValueError(
                f"label_names of task {self.name!r} must list at least 2 classes (or be None for regression), "
                f"got {self.label_names!r}"
            )
        if self.label_names is not None and len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"label_names of task {self.name!r} repeat a name: {self.label_names!r}")
        if self.main_metric not in self.metric_keys:
            raise ValueError(f"main_metric {self.main_metric!r} is not one of metric_keys {self.metric_keys!r}")

    @property
    def is_regression(self) -> bool:
        """Whether the label is a float score (STS-B) rather than a class id."""
        return self.label_names is None

    @property
    def num_labels(self) -> int:
        """Number of model outputs: the number of classes, or 1 for regression."""
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def splits(self) -> tuple[str, ...]:
        """All split names of the task (Hub names)."""
        return tuple(split for split, _ in self.split_files)

    @property
    def eval_splits(self) -> tuple[str, ...]:
        """The labelled evaluation (dev) splits: `("validation",)`, or matched/mismatched for MNLI."""
        return tuple(split for split in self.splits if split.startswith("validation"))

    @property
    def label_feature(self) -> ClassLabel | Value:
        """The `datasets` feature of the `label` column."""
        return Value("float32") if self.label_names is None else ClassLabel(names=list(self.label_names))

    def features(self) -> Features:
        """The `datasets.Features` of a loaded split: the text columns, `label` and `idx`."""
        columns = {column: Value("string") for column in self.text_columns}
        return Features({**columns, "label": self.label_feature, "idx": Value("int32")})


_MNLI_SPLIT_FILES = (
    ("train", "train.tsv"),
    ("validation_matched", "dev_matched.tsv"),
    ("validation_mismatched", "dev_mismatched.tsv"),
    ("test_matched", "test_matched.tsv"),
    ("test_mismatched", "test_mismatched.tsv"),
)

_PAIR = ("sentence1", "sentence2")
_F1 = ("accuracy", "f1")
#: The GLUE tasks by `nyu-mll/glue` config name. Label orders are those of the Hub dataset.
GLUE_TASKS: dict[str, GlueTask] = {
    task.name: task
    for task in (
        GlueTask(
            "cola",
            ("sentence",),
            ("unacceptable", "acceptable"),
            ("matthews_correlation",),
            "matthews_correlation",
            "CoLA",
            tsv_text_columns=("sentence",),
            tsv_columns_without_header=("source", "label", "original_label", "sentence"),
        ),
        GlueTask("sst2", ("sentence",), ("negative", "positive"), folder="SST-2"),
        GlueTask(
            "mrpc",
            _PAIR,
            ("not_equivalent", "equivalent"),
            _F1,
            "f1",
            "MRPC",
            tsv_label_column="Quality",
            tsv_text_columns=("#1 String", "#2 String"),
        ),
        GlueTask(
            "qqp",
            ("question1", "question2"),
            ("not_duplicate", "duplicate"),
            _F1,
            "f1",
            "QQP",
            tsv_label_column="is_duplicate",
        ),
        GlueTask("stsb", _PAIR, None, ("pearson", "spearmanr"), "spearmanr", "STS-B", tsv_label_column="score"),
        GlueTask(
            "mnli",
            ("premise", "hypothesis"),
            ("entailment", "neutral", "contradiction"),
            folder="MNLI",
            split_files=_MNLI_SPLIT_FILES,
            tsv_text_columns=_PAIR,
            tsv_label_column="gold_label",
        ),
        GlueTask("qnli", ("question", "sentence"), ("entailment", "not_entailment"), folder="QNLI"),
        GlueTask("rte", _PAIR, ("entailment", "not_entailment"), folder="RTE"),
        GlueTask("wnli", _PAIR, ("not_entailment", "entailment"), folder="WNLI"),
    )
}


def get_glue_task(task: str | GlueTask) -> GlueTask:
    """Return the `GlueTask` for a task name (case-insensitive), or `task` itself if it already is one.

    Args:
        task: a key of `GLUE_TASKS` (`"sst2"`, `"mnli"`, ...) or a `GlueTask`.

    Raises:
        ValueError: unknown task name (the message lists the valid ones).
    """
    if isinstance(task, GlueTask):
        return task
    key = str(task).lower()
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; valid tasks are: {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[key]


# ----------------------------------------------------------------------------------------------------------
# Label order
# ----------------------------------------------------------------------------------------------------------


def _task_label_names(task_labels: str | GlueTask | Sequence[str] | None) -> tuple[str, ...] | None:
    if task_labels is None:
        return None
    if isinstance(task_labels, (str, GlueTask)):
        return get_glue_task(task_labels).label_names
    return tuple(task_labels)


def label_config_kwargs(task: str | GlueTask) -> dict[str, Any]:
    """Keyword arguments that give a new model the task's labels in the task's order.

    Pass them to `AutoConfig.from_pretrained(..., **label_config_kwargs("mnli"))` or
    `AutoModelForSequenceClassification.from_pretrained(...)`, or to a config constructor, so that the
    model's `id2label` matches the dataset's label ids.

    Args:
        task: a GLUE task name or a `GlueTask`.

    Returns:
        `num_labels`, `id2label`, `label2id` and `problem_type` (`"regression"` for STS-B, else
        `"single_label_classification"`).
    """
    task = get_glue_task(task)
    if task.is_regression:
        return {
            "num_labels": 1,
            "id2label": {0: "LABEL_0"},
            "label2id": {"LABEL_0": 0},
            "problem_type": "regression",
        }
    return {
        "num_labels": task.num_labels,
        "id2label": dict(enumerate(task.label_names)),
        "label2id": {name: i for i, name in enumerate(task.label_names)},
        "problem_type": "single_label_classification",
    }


_PLACEHOLDER_LABEL = re.compile(r"LABEL_\d+")


def check_label_order(task_labels: str | GlueTask | Sequence[str] | None, model_config: Any) -> None:
    """Make sure a model's label ids mean what the dataset's label ids mean.

    A fine-tuned teacher whose `id2label` is informative (not the `LABEL_0, LABEL_1, ...` placeholders)
    must list the task's labels in the task's order (compared case-insensitively), otherwise its logits
    would be read against the wrong classes (the official TinyBERT code's MNLI bug). Placeholder names
    cannot be checked: that is logged as a warning.

    Args:
        task_labels: the dataset's label names in id order, a GLUE task name / `GlueTask` (its
            `label_names`), or `None` for a regression task.
        model_config: a `PretrainedConfig` (anything with `num_labels` and `id2label`).

    Raises:
        ValueError: the number of labels differs, or the model's informative label order disagrees
            with the task's (the message names both orders).
    """
    labels = _task_label_names(task_labels)
    num_labels = int(model_config.num_labels)
    id2label = {int(k): str(v) for k, v in (getattr(model_config, "id2label", None) or {}).items()}
    model_order = [id2label.get(i, f"LABEL_{i}") for i in range(num_labels)]
    if labels is None:
        if num_labels != 1:
            raise ValueError(
                f"the task is a regression (one float label) but the model has num_labels={num_labels} "
                f"({model_order}); it needs num_labels=1"
            )
        return
    if num_labels != len(labels):
        raise ValueError(
            f"the model has {num_labels} labels {model_order} but the task has {len(labels)}: {list(labels)}"
        )
    if all(_PLACEHOLDER_LABEL.fullmatch(name) for name in model_order):
        logger.warning(
            f"the model's id2label {model_order} carries no label names, so its label order cannot be checked "
            f"against the task's {list(labels)}; make sure it was trained with that order"
        )
        return
    if [name.lower() for name in model_order] != [name.lower() for name in labels]:
        raise ValueError(
            f"label order mismatch: the model's id2label is {model_order} but the task's labels are "
            f"{list(labels)} (id 0 first). Using this model would read its logits against the wrong classes. "
            "If the model's labels mean the task's labels in the task's order, set "
            "model.config.id2label/label2id accordingly (see label_config_kwargs); otherwise permute the "
            "classifier's output rows or remap the dataset's labels."
        )


# ----------------------------------------------------------------------------------------------------------
# Reading local files
# ----------------------------------------------------------------------------------------------------------


def _labels_error(path: Path, bad: set[Any], task: GlueTask) -> ValueError:
    shown = sorted(map(repr, bad))[:10]
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    valid = "a number" if task.is_regression else f"one of {list(task.label_names)} or an id 0..{task.num_labels - 1}"
    return ValueError(
        f"{path}: labels outside the label set of task {task.name!r}: {', '.join(shown)}{more}; "
        f"valid labels are {valid}"
    )


def _label_id(raw: Any, task: GlueTask) -> int | float | None:
    """Convert one raw label (a class name, an id or a score) to its id (or float score); None when it is not valid
    for the task."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if not task.is_regression and raw in task.label_names:
            return task.label_names.index(raw)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if task.is_regression:
        return value if value == value else None  # NaN is not a score
    return int(value) if value.is_integer() and 0 <= value < task.num_labels else None


def _read_glue_tsv(path: Path, task: GlueTask, split: str) -> list[dict[str, Any]]:
    """Parse one TSV file of a GLUE-format folder (no quoting; UTF-8 with or without BOM)."""
    tsv_text_columns = task.tsv_text_columns or task.text_columns
    with open(path, encoding="utf-8-sig", newline="\n") as f:
        lines = [line.rstrip("\r\n") for line in f]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ValueError(f"{path} is empty")
    first = lines[0].split("\t")
    if task.tsv_columns_without_header is not None and first[0] != "index":
        header, body, first_line_number = list(task.tsv_columns_without_header), lines, 1
    else:
        header, body, first_line_number = first, lines[1:], 2
    for column in tsv_text_columns:
        if column not in header:
            raise ValueError(f"{path}: missing column {column!r} for task {task.name!r}; the file has columns {header}")
    positions = [header.index(column) for column in tsv_text_columns]
    has_label = task.tsv_label_column in header
    if not has_label and not split.startswith("test"):
        raise ValueError(
            f"{path}: missing label column {task.tsv_label_column!r} for task {task.name!r}; "
            f"the file has columns {header}"
        )
    label_position = header.index(task.tsv_label_column) if has_label else None
    rows, bad_labels, malformed = [], set(), []
    for n, line in enumerate(body):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            malformed.append(first_line_number + n)
            continue
        row = {column: fields[p] for column, p in zip(task.text_columns, positions)}
        if label_position is None:
            row["label"] = -1.0 if task.is_regression else -1
        else:
            label = _label_id(fields[label_position], task)
            if label is None:
                bad_labels.add(fields[label_position])
                continue
            row["label"] = label
        row["idx"] = n
        rows.append(row)
    if bad_labels:
        raise _labels_error(path, bad_labels, task)
    if malformed:
        logger.warning(
            f"{path}: skipped {len(malformed)} malformed line(s) without exactly {len(header)} tab-separated "
            f"fields, e.g. line(s) {malformed[:5]}"
        )
    if not rows:
        raise ValueError(f"{path}: no usable rows for task {task.name!r} (every line was empty or malformed)")
    return rows


def _iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line or record number, record) from a CSV, TSV, JSON or JSON-lines file."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            if suffix == ".csv":
                reader = csv.DictReader(f)
            else:
                reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            for record in reader:
                yield reader.line_num, record
        return
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # many ".json" files are JSON lines
        if data is not None:
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValueError(f"{path}: expected a list of objects (or {{'data': [...]}}) or JSON lines")
            yield from ((i + 1, record) for i, record in enumerate(data))
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {number} is not valid JSON: {err}") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {number} is not a JSON object")
        yield number, record


def _read_data_file(
    path: Path, task: GlueTask, text_columns: Sequence[str], label_column: str | None
) -> list[dict[str, Any]]:
    """Read a CSV/TSV/JSON/JSONL file with named text and label columns into rows of the task's columns."""
    return _rows_of(_iter_records(path), path, task, text_columns, label_column)


def _rows_of(records, path, task: GlueTask, text_columns: Sequence[str], label_column: str | None) -> list[dict]:
    """(line or position, record) pairs with named text and label columns -> rows of the task's columns."""
    wanted = [*text_columns, *([label_column] if label_column is not None else [])]
    rows, bad_labels = [], set()
    for idx, (number, record) in enumerate(records):
        for column in wanted:
            if column not in record or record[column] is None:
                raise ValueError(
                    f"{path}: missing column {column!r} (record at line/position {number}); "
                    f"it has columns {sorted(k for k in record if k is not None)}"
                )
        row = {column: str(record[source]) for column, source in zip(task.text_columns, text_columns)}
        if label_column is None:
            row["label"] = -1.0 if task.is_regression else -1
        else:
            raw = record[label_column]
            label = _label_id(raw, task)
            if label is None:
                bad_labels.add(raw if isinstance(raw, (str, int, float)) else repr(raw))
                continue
            row["label"] = label
        row["idx"] = idx
        rows.append(row)
    if bad_labels:
        raise _labels_error(path, bad_labels, task)
    if not rows:
        raise ValueError(f"{path} holds no records")
    return rows


def load_task_dataset(
    task: str | GlueTask,
    name: str,
    config: str | None = None,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = "label",
) -> DatasetDict:
    """Any `datasets` dataset as the task's columns (`run_glue`'s `--dataset_name` / `--dataset_config_name`).

    Args:
        task: the task (a GLUE name or a `GlueTask`); its label names decide the label ids.
        name: a Hub dataset id, a folder of data files, or a `save_to_disk` folder.
        config: the dataset's configuration name.
        text_columns: the dataset's text column(s), in the task's order (default: the task's).
        label_column: the dataset's label column: class names, ids or (`ClassLabel`) named ids.

    Raises:
        ValueError: a missing column, or labels outside the task's label set (naming them).
    """
    task = get_glue_task(task)
    folder = Path(name)
    if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
        loaded = datasets.load_from_disk(str(folder))
    else:
        loaded = datasets.load_dataset(name, config)
    if isinstance(loaded, Dataset):
        loaded = DatasetDict({"train": loaded})
    text_columns = tuple(text_columns) if text_columns else task.text_columns
    result = {}
    for split, part in loaded.items():
        label = part.features.get(label_column) if label_column else None
        names = label.names if isinstance(label, ClassLabel) else None

        def records(part=part, names=names):
            for index, record in enumerate(part):
                if names is not None and isinstance(record.get(label_column), int) and record[label_column] >= 0:
                    record = {**record, label_column: names[record[label_column]]}  # the id's name
                yield index + 1, record

        rows = _rows_of(records(), f"{name} ({split})", task, text_columns, label_column)
        result[split] = Dataset.from_list(rows, features=task.features())
    return DatasetDict(result)


def _task_signature(task: GlueTask) -> list[Any]:
    return [task.name, task.text_columns, task.label_names]


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def _find_task_folder(data_dir: Path, task: GlueTask) -> Path:
    if not data_dir.is_dir():
        raise FileNotFoundError(f"GLUE data directory {str(data_dir)!r} does not exist")
    if not task.folder:
        raise ValueError(f"task {task.name!r} has no GLUE folder name; load its files with data_files=")
    subfolders = sorted(p.name for p in data_dir.iterdir() if p.is_dir())
    for name in subfolders:
        if name.lower() == task.folder.lower():
            return data_dir / name
    if data_dir.name.lower() == task.folder.lower():
        return data_dir
    known = {t.folder.lower() for t in GLUE_TASKS.values()}
    found = [name for name in subfolders if name.lower() in known]
    if found:
        what = f"it holds the task folders: {', '.join(found)}"
    else:
        what = f"it holds no GLUE task folder (subfolders: {subfolders or 'none'})"
    raise ValueError(f"no folder {task.folder!r} for task {task.name!r} in GLUE directory {str(data_dir)!r}; {what}")


def _load_glue_folder(task: GlueTask, data_dir: Path, split: str | None, cache_dir: str | None):
    folder = _find_task_folder(data_dir, task)
    split_files = dict(task.split_files)
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    if split is not None:
        if split not in split_files:
            raise ValueError(
                f"unknown split {split!r} for task {task.name!r}; valid splits are: {', '.join(split_files)}"
            )
        wanted = [split]
        if not (folder / split_files[split]).is_file():
            raise FileNotFoundError(
                f"split {split!r} of task {task.name!r} needs {str(folder / split_files[split])!r}, which does not "
                f"exist; the folder holds: {', '.join(present) or 'nothing'}"
            )
    else:
        wanted = [s for s, name in task.split_files if (folder / name).is_file()]
        if not wanted:
            raise FileNotFoundError(
                f"{str(folder)!r} holds none of the files of task {task.name!r} "
                f"({', '.join(split_files.values())}); it holds: {', '.join(present) or 'nothing'}"
            )
    loaded = {}
    for name in wanted:
        path = folder / split_files[name]
        rows = _read_glue_tsv(path, task, name)
        loaded[name] = rows_to_cached_dataset(
            rows, task.features(), ["glue-folder", *_task_signature(task), *file_signature(path), name], name, cache_dir
        )
        logger.info(f"loaded {len(rows)} rows of {task.name}/{name} from {path}")
    return loaded[split] if split is not None else DatasetDict(loaded)


def _load_data_files(
    task: GlueTask,
    data_files: str | os.PathLike | Mapping[str, str | os.PathLike],
    split: str | None,
    text_columns: Sequence[str] | None,
    label_column: str | None,
    cache_dir: str | None,
):
    files = {"train": data_files} if isinstance(data_files, (str, os.PathLike)) else dict(data_files)
    if not files:
        raise ValueError("data_files is empty; give a path or a mapping {split: path}")
    if split is not None and split not in files:
        raise ValueError(f"split {split!r} is not in data_files; it has: {', '.join(files)}")
    if isinstance(text_columns, str):
        text_columns = (text_columns,)
    text_columns = tuple(text_columns) if text_columns is not None else task.text_columns
    if len(text_columns) != len(task.text_columns):
        raise ValueError(
            f"task {task.name!r} needs {len(task.text_columns)} text column(s) {task.text_columns}, "
            f"got text_columns={text_columns!r}"
        )
    paths = {name: Path(path) for name, path in files.items() if split is None or name == split}
    for name, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"data file {str(path)!r} for split {name!r} does not exist")
        if path.suffix.lower() not in _DATA_FILE_SUFFIXES:
            raise ValueError(
                f"{path}: unsupported file type {path.suffix!r}; supported: {', '.join(_DATA_FILE_SUFFIXES)}"
            )
    loaded = {}
    for name, path in paths.items():
        rows = _read_data_file(path, task, text_columns, label_column)
        key = ["data-file", *_task_signature(task), text_columns, label_column, *file_signature(path), name]
        loaded[name] = rows_to_cached_dataset(rows, task.features(), key, name, cache_dir)
    return loaded[split] if split is not None else DatasetDict(loaded)


def _load_glue_hub(task: GlueTask, split: str | None, cache_dir: str | None):
    if task.name not in GLUE_TASKS:
        raise ValueError(
            f"task {task.name!r} is not a GLUE task, so it cannot come from {GLUE_HUB_ID}; use data_files="
        )
    if split is not None and split not in task.splits:
        raise ValueError(f"unknown split {split!r} for task {task.name!r}; valid splits are: {', '.join(task.splits)}")
    loaded = datasets.load_dataset(GLUE_HUB_ID, task.name, split=split, cache_dir=cache_dir)
    some_split = loaded if isinstance(loaded, Dataset) else next(iter(loaded.values()))
    feature = some_split.features["label"]
    names = tuple(feature.names) if isinstance(feature, ClassLabel) else None
    if names != task.label_names:
        raise ValueError(
            f"{GLUE_HUB_ID}/{task.name} has labels {names} but hf_tinybert expects {task.label_names}; "
            "refusing to guess the label order"
        )
    return loaded


def load_glue(
    task: str | GlueTask,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    *,
    data_files: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = "label",
    cache_dir: str | None = None,
) -> Dataset | DatasetDict:
    """Load a GLUE task (or a task of your own) with the columns of the Hub's `nyu-mll/glue`.

    Three sources, in this order of precedence:

    - `data_files`: CSV (comma, quoted), TSV (tab, no quoting), JSON (a list of objects) or JSON-lines
      files whose columns `text_columns` and `label_column` hold the texts and labels. Labels may be
      names from the task's `label_names` or ids (`0`, `"1"`); STS-B-like tasks take numbers.
    - `data_dir`: a GLUE-format directory (`<data_dir>/SST-2/train.tsv`, `dev.tsv`, `test.tsv`, MNLI's
      `dev_matched.tsv` / `dev_mismatched.tsv` ...) or one task folder itself. The TSV files are read
      without quoting (fields contain `"`), with or without a UTF-8 BOM (MRPC), CoLA's header-less
      train/dev files included. Lines with the wrong number of fields are skipped with a warning.
    - neither: the Hub dataset `nyu-mll/glue` (needs network access or a warm cache).

    Local sources are written once to Arrow files under `cache_dir` (default: the `datasets` cache), so
    that `tokenize_glue` results are cached on disk too.

    Args:
        task: a GLUE task name (`"cola"`, `"sst2"`, `"mrpc"`, `"qqp"`, `"stsb"`, `"mnli"`, `"qnli"`,
            `"rte"`, `"wnli"`) or a `GlueTask`.
        data_dir: a GLUE-format directory.
        split: one split name, to get a `Dataset` instead of a `DatasetDict`. With `data_dir` or the
            Hub: `train`, `validation`, `test` (MNLI: `validation_matched`, `validation_mismatched`,
            `test_matched`, `test_mismatched`); with `data_files`: one of its keys.
        data_files: one file (loaded as split `train`) or a mapping `{split: file}`.
        text_columns: the text column names in `data_files`, in the task's order (default: the task's
            own column names, e.g. `("premise", "hypothesis")`).
        label_column: the label column name in `data_files`; `None` for unlabelled files (label -1).
        cache_dir: where `datasets` caches the loaded splits.

    Returns:
        A `DatasetDict` of every split found (local) or published (Hub), or a `Dataset` if `split` is
        given. Columns: the task's text columns, `label` (`ClassLabel`, -1 when unlabelled, or a float
        for STS-B) and `idx`.

    Raises:
        ValueError: unknown task or split, both `data_dir` and `data_files` given, a missing column,
            labels outside the task's label set, or no usable rows.
        FileNotFoundError: a missing directory or file (the message lists what exists).

    Example:
        ```python
        >>> ds = load_glue("rte", data_dir="../shared/data/glue")
        >>> ds["validation"][0]["label"], ds["validation"].features["label"].names
        (1, ['entailment', 'not_entailment'])
        ```
    """
    task = get_glue_task(task)
    if data_dir is not None and data_files is not None:
        raise ValueError("give either data_dir (a GLUE-format directory) or data_files, not both")
    if data_files is not None:
        return _load_data_files(task, data_files, split, text_columns, label_column, cache_dir)
    if text_columns is not None:
        raise ValueError("text_columns only applies to data_files; GLUE folders and the Hub have fixed columns")
    if data_dir is not None:
        return _load_glue_folder(task, Path(data_dir), split, cache_dir)
    return _load_glue_hub(task, split, cache_dir)


# ----------------------------------------------------------------------------------------------------------
# Tokenisation
# ----------------------------------------------------------------------------------------------------------


def _tokenize_batch(batch, tokenizer, text_columns, max_length, padding):
    texts = [batch[column] for column in text_columns]
    encoded = tokenizer(
        *texts,
        truncation=True,
        max_length=max_length,
        padding=padding,
        return_token_type_ids=True,
        return_attention_mask=True,
    )
    return {
        "input_ids": encoded["input_ids"],
        "attention_mask": encoded["attention_mask"],
        "token_type_ids": encoded["token_type_ids"],
        "labels": batch["label"],
    }


def tokenize_glue(
    dataset: Dataset | DatasetDict,
    tokenizer: Any,
    task: str | GlueTask,
    max_length: int = 128,
    *,
    padding: bool | str = False,
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> Dataset | DatasetDict:
    """Tokenise a loaded GLUE split (or all splits) for a sequence-classification model.

    Runs a batched, cached `datasets.map`: a second call with the same data, tokenizer and arguments
    reads the cached result. Sentence pairs are truncated longest-first to `max_length`.

    Args:
        dataset: a `Dataset` or `DatasetDict` from `load_glue` (it needs the task's text columns and `label`).
        tokenizer: a `transformers` tokenizer (fast or slow) that returns token type ids.
        task: the task name or `GlueTask` (for its text columns).
        max_length: the longest sequence, special tokens included.
        padding: `False` (pad per batch with `DataCollatorWithPadding`, the default) or `"max_length"`.
        num_proc: worker processes for `map`.
        load_from_cache_file: reuse a cached result when there is one.

    Returns:
        The same kind of object with only the columns `input_ids`, `attention_mask`, `token_type_ids`
        and `labels` (int class ids, or floats for STS-B).

    Raises:
        ValueError: a missing column (the message lists the dataset's columns) or a bad `max_length`.
    """
    task = get_glue_task(task)
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an int >= 2, got {max_length!r}")
    if padding not in (False, True, "longest", "max_length", "do_not_pad"):
        raise ValueError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
    splits = list(dataset.values()) if isinstance(dataset, DatasetDict) else [dataset]
    for part in splits:
        missing = [c for c in (*task.text_columns, "label") if c not in part.column_names]
        if missing:
            raise ValueError(
                f"dataset lacks column(s) {missing} needed by task {task.name!r}; it has columns {part.column_names}"
            )
    function = functools.partial(
        _tokenize_batch, tokenizer=tokenizer, text_columns=task.text_columns, max_length=max_length, padding=padding
    )
    first = next(iter(splits))
    features = Features(
        {
            "input_ids": List(Value("int32")),
            "attention_mask": List(Value("int32")),
            "token_type_ids": List(Value("int32")),
            "labels": first.features["label"],
        }
    )
    return dataset.map(
        function,
        batched=True,
        remove_columns=first.column_names,
        features=features,
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
        desc=f"Tokenizing {task.name}",
    )
