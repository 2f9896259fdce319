"""Rows parsed from local files, written once to cached Arrow files keyed by the files' identity.

A `Dataset` backed by an Arrow file (rather than held in memory) lets later `Dataset.map` calls cache
their results on disk too. The cache key is built from what was read (the resolved path, size and
modification time of each file) and how it was read, so an edited file is read again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, Features

# Bump when a reader's parsing changes, so that datasets cached by an older version are not reused.
_CACHE_VERSION = "1"


def file_signature(path: str | Path) -> list[Any]:
    """Identify a file's contents cheaply: resolved path, size in bytes and modification time (ns)."""
    path = Path(path)
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _yield_rows(rows: Iterable[dict[str, Any]]):
    yield from rows


def rows_to_cached_dataset(
    rows: list[dict[str, Any]], features: Features, key: list[Any], split: str, cache_dir: str | None = None
) -> Dataset:
    """Write rows to an Arrow file under `cache_dir` (once per `key`) and return the memory-mapped `Dataset`.

    Args:
        rows: the rows, each a dict with the keys of `features`.
        features: the columns' types.
        key: JSON-serialisable values that identify the rows (file signatures, reader options).
        split: the split name recorded in the dataset.
        cache_dir: the `datasets` cache folder (default: `HF_DATASETS_CACHE`).

    Returns:
        The dataset; its fingerprint is derived from `key`.
    """
    fingerprint = hashlib.sha256(json.dumps([_CACHE_VERSION, *key], default=str).encode()).hexdigest()[:32]
    return Dataset.from_generator(
        _yield_rows,
        features=features,
        gen_kwargs={"rows": rows},
        cache_dir=cache_dir,
        split=datasets.NamedSplit(split),
        fingerprint=fingerprint,
    )
