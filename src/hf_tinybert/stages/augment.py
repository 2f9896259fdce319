"""The data-augmentation step of TinyBERT's recipe, offline: a task's training table augmented with the
fine-tuned teacher's input-embedding table as the candidate source (`hf_tinybert.data.augment`), saved as a
table file for task distillation (`TaskDataArguments(train_file=...)`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..data.augment import AugmentationConfig


def augment_task_data(
    train,
    text_columns: str | Sequence[str] | None,
    teacher: str | os.PathLike,
    config: AugmentationConfig | None,
    output_file: str | os.PathLike,
    *,
    overwrite: bool = False,
    max_examples: int | None = None,
    string_columns: Sequence[str] = (),
    drop_columns: Sequence[str] = ("idx",),
) -> dict:
    """Augment a training table with TinyBERT's Algorithm 1, the teacher's embedding table giving the candidates
    (offline), and save the result.

    Args:
        train: a `datasets.Dataset`, or a table file (`.tsv`, `.csv`, `.jsonl`, ... : `load_table`).
        text_columns: the column(s) to augment; None: every column but ``label`` and ``idx``.
        teacher: the (fine-tuned) teacher's folder or Hub id: its input embeddings give the candidates, its
            tokenizer splits the texts.
        config: the augmentation settings (None: the paper's).
        output_file: the table to write; its suffix picks the format (`save_table`).
        overwrite: replace an existing `output_file`.
        max_examples: augment only the first N examples (None or 0: all).
        string_columns: with a file, further columns to read as strings (the text columns always are).
        drop_columns: columns left out of the saved table where present (GLUE's ``idx`` would repeat).

    Returns:
        ``{"examples": N, "augmented_examples": M}``: the examples read and the rows written.

    Raises:
        ValueError: `output_file` exists and `overwrite` is false (checked before any work), or a bad column,
            config or teacher.
    """
    from transformers import AutoTokenizer

    from ..data.augment import augment_dataset, build_candidate_sources
    from ..data.table_files import check_output_path, load_table, save_table

    check_output_path(output_file, overwrite=overwrite)
    if isinstance(train, (str, os.PathLike)):
        texts = [text_columns] if isinstance(text_columns, str) else list(text_columns or ())
        train = load_table(train, string_columns=[*texts, *string_columns])
    if max_examples:
        train = train.select(range(min(max_examples, len(train))))
    if text_columns is None:
        text_columns = [c for c in train.column_names if c not in ("label", "idx")]
    teacher = str(teacher)
    rows = augment_dataset(
        train,
        text_columns,
        build_candidate_sources(teacher=teacher),  # offline: the teacher's input-embedding table
        config,
        tokenizer=AutoTokenizer.from_pretrained(teacher),
    )
    dropped = [c for c in drop_columns if c in rows.column_names]
    save_table(rows.remove_columns(dropped) if dropped else rows, output_file, overwrite=overwrite)
    return {"examples": len(train), "augmented_examples": len(rows)}


__all__ = ["augment_task_data"]
