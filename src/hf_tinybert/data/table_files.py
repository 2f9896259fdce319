"""Read and write tables of examples: GLUE-style TSV, CSV, JSON lines, or a `save_to_disk` folder.

TSV files are read and written the GLUE way: a header row, tab-separated fields, no quoting (GLUE texts
contain `"`), LF line endings, so a TSV written here has the columns of the file it came from and the GLUE
loaders read it like the original.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from transformers.utils import logging

from ..utils import check_output_dir

logger = logging.get_logger(__name__)

#: File suffixes `load_table` and `save_table` know; any other path is a `save_to_disk` folder.
TABLE_FILE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json")


def load_table(path: str | os.PathLike, *, split: str | None = None, string_columns: Sequence[str] = ()):
    """Load examples from a `.tsv` / `.csv` / `.jsonl` / `.json` file or a `save_to_disk` folder.

    TSV: the first line is the header; fields are split on tabs with no quoting. CSV: standard quoting. JSON:
    JSON lines, or one array of objects. In TSV/CSV, values are kept as written (no "NA" -> missing conversion); `string_columns` are read as strings
    and the other columns get pandas' inferred types (integer labels stay integers).

    Args:
        path: the file or folder.
        split: the split to take when the folder holds a `DatasetDict`.
        string_columns: columns to read as strings from TSV/CSV (the text columns).

    Returns:
        A `datasets.Dataset`.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the format is unknown, or the folder holds several splits and `split` is not one.
    """
    import datasets
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"input {str(path)!r} does not exist (expected a {'/'.join(TABLE_FILE_SUFFIXES)} file or a save_to_disk folder)"
        )
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"{path} holds the splits {', '.join(loaded)}; choose one with split= (got {split!r})")
            loaded = loaded[split]
        return loaded
    suffix = path.suffix.lower()
    dtypes = {column: str for column in string_columns}
    if suffix == ".tsv":
        frame = pd.read_csv(
            path,
            sep="\t",
            quoting=csv.QUOTE_NONE,
            dtype=dtypes,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8",
        )
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_filter=False, encoding="utf-8")
    elif suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            head = f.read(4096).lstrip()
        frame = pd.read_json(path, lines=not head.startswith("["), dtype=False, encoding="utf-8")
    else:
        raise ValueError(
            f"unknown input format {suffix!r} of {str(path)!r}; use one of {', '.join(TABLE_FILE_SUFFIXES)} or a folder"
        )
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Refuse to replace an existing output unless `overwrite` (call it before any heavy work).

    Args:
        path: the output file (`.tsv`, `.csv`, `.jsonl`, `.json`) or `save_to_disk` folder.
        overwrite: allow replacing an existing file or non-empty folder.

    Returns:
        `path` as a `Path`.

    Raises:
        OutputExistsError: (a `ValueError` and a `FileExistsError`) if the output exists (a file, or a non-empty
            folder) and `overwrite` is false, or a file output names an existing folder, or a folder output an
            existing file.
    """
    return check_output_dir(path, overwrite, file=Path(path).suffix.lower() in TABLE_FILE_SUFFIXES)


def _tsv_field(value) -> str:
    text = "" if value is None else str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        logger.warning_once("a value contains tabs or line breaks; they are written as spaces in the TSV file")
        text = text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text


def save_table(dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a dataset as `.tsv` (GLUE format), `.csv`, `.jsonl` / `.json` (JSON lines) or a `save_to_disk` folder.

    Args:
        dataset: a `datasets.Dataset`.
        path: the output; its suffix picks the format, a path without a known suffix is a folder.
        overwrite: allow replacing an existing file or non-empty folder.

    Returns:
        The path written.

    Raises:
        ValueError: see `check_output_path`.
    """
    path = check_output_path(path, overwrite=overwrite)
    suffix = path.suffix.lower()
    if suffix in TABLE_FILE_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".tsv":
        columns = dataset.column_names
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\t".join(columns) + "\n")
            for batch in dataset.iter(batch_size=1000):
                for row in zip(*(batch[column] for column in columns)):
                    f.write("\t".join(_tsv_field(value) for value in row) + "\n")
    elif suffix == ".csv":
        dataset.to_csv(str(path), index=False)
    elif suffix in (".jsonl", ".json"):
        dataset.to_json(str(path), lines=True, force_ascii=False)
    else:
        dataset.save_to_disk(str(path))
    return path


__all__ = ["TABLE_FILE_SUFFIXES", "check_output_path", "load_table", "save_table"]
