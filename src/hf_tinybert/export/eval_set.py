"""Labelled examples that an export checks itself on: lists of texts (or pairs) and labels, or a GLUE TSV.

An ONNX export is only as good as the labels it still predicts. `load_eval_set` turns what a user has
at hand (two Python lists, or a GLUE-style ``dev.tsv`` such as ``glue/SST-2/dev.tsv``) into an
`EvalSet` whose labels are class ids of the model being exported.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Text columns of the GLUE TSV files, first match wins: (first text, second text or None).
GLUE_TEXT_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("sentence1", "sentence2"),  # RTE, WNLI, MNLI, STS-B
    ("question1", "question2"),  # QQP
    ("question", "sentence"),  # QNLI
    ("#1 String", "#2 String"),  # MRPC
    ("sentence", None),  # SST-2, CoLA (with header)
)
GLUE_LABEL_COLUMNS: tuple[str, ...] = ("label", "gold_label", "Quality")

# Label names used by GLUE files, with the ids the GLUE datasets on the Hub give them. Used only when
# the model's own `label2id` does not name the labels.
GLUE_LABEL_IDS: dict[str, int] = {"entailment": 0, "not_entailment": 1, "neutral": 1, "contradiction": 2}


@dataclass
class EvalSet:
    """Labelled examples for checking an exported classifier.

    Attributes:
        texts: the first (or only) text of each example.
        text_pairs: the second text of each example, or None for single-sentence tasks.
        labels: class id of each example.
        source: where the examples came from (a path, or ``"python lists"``), for reports.
    """

    texts: list[str]
    text_pairs: list[str] | None
    labels: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, count: int) -> EvalSet:
        """The first `count` examples (all of them when `count` is larger)."""
        pairs = None if self.text_pairs is None else self.text_pairs[:count]
        return EvalSet(self.texts[:count], pairs, self.labels[:count], self.source)


def _label_id(value, label2id: Mapping[str, int] | None, num_labels: int | None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"Label {value!r} is a bool; labels must be class ids or label names")
    if isinstance(value, int):
        label = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        label = int(value.strip())
    elif isinstance(value, str) and label2id and value in label2id:
        label = int(label2id[value])
    elif isinstance(value, str) and value in GLUE_LABEL_IDS:
        label = GLUE_LABEL_IDS[value]
    else:
        valid = sorted(label2id or {}) + sorted(GLUE_LABEL_IDS)
        raise ValueError(f"Unknown label {value!r}; give class ids (0..num_labels-1) or one of: {', '.join(valid)}")
    if label < 0 or (num_labels is not None and label >= num_labels):
        raise ValueError(f"Label {value!r} is out of range for a model with num_labels={num_labels}")
    return label


def _read_glue_tsv(path: Path) -> tuple[list[str], list[str] | None, list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if len(rows) < 2:
        raise ValueError(
            f"Eval set {str(path)!r} has no examples (a GLUE TSV has a header row, then one row per example)"
        )
    header = rows[0]
    label_col = next((c for c in GLUE_LABEL_COLUMNS if c in header), None)
    text_cols = next(
        (cols for cols in GLUE_TEXT_COLUMNS if cols[0] in header and (cols[1] is None or cols[1] in header)), None
    )
    if label_col is None or text_cols is None:
        raise ValueError(
            f"Eval set {str(path)!r} has columns {header}; expected a GLUE TSV with a label column "
            f"({', '.join(GLUE_LABEL_COLUMNS)}) and text columns "
            f"({'; '.join(' + '.join(c for c in cols if c) for cols in GLUE_TEXT_COLUMNS)})"
        )
    label_i, first_i = header.index(label_col), header.index(text_cols[0])
    second_i = header.index(text_cols[1]) if text_cols[1] else None
    texts, pairs, labels = [], [] if second_i is not None else None, []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise ValueError(
                f"Eval set {str(path)!r}, line {line_no}: {len(row)} columns, the header has {len(header)}"
            )
        texts.append(row[first_i].strip())
        if pairs is not None:
            pairs.append(row[second_i].strip())
        labels.append(row[label_i].strip())
    return texts, pairs, labels


def load_eval_set(
    source: str | os.PathLike | tuple[Sequence, Sequence] | EvalSet,
    *,
    label2id: Mapping[str, int] | None = None,
    num_labels: int | None = None,
    max_examples: int | None = None,
) -> EvalSet:
    """Read labelled examples for checking an export.

    Args:
        source: a GLUE-style TSV path (header row, text column(s) such as ``sentence`` or ``sentence1`` +
            ``sentence2``, and a ``label`` column), or a pair ``(inputs, labels)`` where `inputs` is a list of
            texts or of ``(text, text_pair)`` tuples and `labels` is a list of class ids or label names, or an
            `EvalSet` (returned as it is, after the same label checks).
        label2id: the model's label names (`config.label2id`), used to turn label names into ids. Names in
            `GLUE_LABEL_IDS` (``entailment``, ``not_entailment``, ...) are understood without it.
        num_labels: the model's number of classes; labels outside ``0..num_labels-1`` are an error.
        max_examples: keep only the first `max_examples` examples.

    Returns:
        The examples as an `EvalSet`.

    Raises:
        FileNotFoundError: `source` is a path that does not exist.
        ValueError: the file or lists are malformed, empty, of different lengths, or hold unknown labels.
    """
    if isinstance(source, EvalSet):
        texts, pairs, raw_labels, name = source.texts, source.text_pairs, source.labels, source.source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Eval set {str(path)!r} does not exist (expected a GLUE-style TSV file)")
        texts, pairs, raw_labels = _read_glue_tsv(path)
        name = str(path)
    elif isinstance(source, (tuple, list)) and len(source) == 2:
        inputs, raw_labels = list(source[0]), list(source[1])
        if len(inputs) != len(raw_labels):
            raise ValueError(f"Eval set has {len(inputs)} inputs but {len(raw_labels)} labels")
        if inputs and all(isinstance(x, str) for x in inputs):
            texts, pairs = inputs, None
        elif inputs and all(isinstance(x, (tuple, list)) and len(x) == 2 for x in inputs):
            texts, pairs = [str(x[0]) for x in inputs], [str(x[1]) for x in inputs]
        else:
            raise ValueError("Eval set inputs must be a non-empty list of texts or of (text, text_pair) tuples")
        name = "python lists"
    else:
        raise ValueError(
            f"Eval set of type {type(source).__name__} is not understood; give a GLUE TSV path or (inputs, labels)"
        )
    if not texts:
        raise ValueError(f"Eval set {name!r} has no examples")
    labels = [_label_id(value, label2id, num_labels) for value in raw_labels]
    eval_set = EvalSet(list(texts), None if pairs is None else list(pairs), labels, name)
    return eval_set.select(max_examples) if max_examples is not None else eval_set


__all__ = ["GLUE_LABEL_IDS", "EvalSet", "load_eval_set"]
