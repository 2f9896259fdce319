"""Raw text corpora for general distillation: loading documents, packing them into fixed-length blocks.

`load_corpus` reads documents (one row per document, column `text`) from local files or a Hub dataset,
as a `Dataset` (cached Arrow files) or, when streamed, an `IterableDataset`. `pack_corpus` tokenises
them and packs the token stream into `[CLS] ... [SEP]` blocks of exactly `max_seq_length` tokens, like
`run_mlm.py`'s `group_texts` with the special tokens added. `shard_for_rank` gives each process of a
multi-process job its own part.

Local formats (chosen by suffix, or by `file_format`):

- `.txt`: one paragraph per line; blank lines separate documents.
- `.tokens` (WikiText): ` = Title = ` lines start a new article (the document); section headings
  (` = = Section = = `) are dropped; the `@-@`, `@,@`, `@.@` markers are joined back (`state-of-the-art`).
- `.jsonl` / `.json`: JSON lines, one document per object in its `text_column` field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import datasets
from datasets import Dataset, Features, IterableDataset, List, Value
from datasets.distributed import split_dataset_by_node
from datasets.exceptions import DatasetGenerationError
from datasets.fingerprint import Hasher
from transformers.utils import logging

from .arrow_cache import file_signature

logger = logging.get_logger(__name__)

#: File suffix -> format read by `load_corpus`.
CORPUS_FORMATS: dict[str, str] = {".txt": "text", ".tokens": "wikitext", ".jsonl": "jsonl", ".json": "jsonl"}

_DOCUMENT_FEATURES = Features({"text": Value("string")})
_HEADING = re.compile(r"\s*((?:=\s)+)(.*?)((?:\s=)+)\s*")
_WIKITEXT_MARKERS = ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."))
# Bump when a reader's output changes, so that corpora cached by an older version are not reused.
_CACHE_VERSION = "corpus-1"


# ----------------------------------------------------------------------------------------------------------
# Readers: each yields {"text": document}
# ----------------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> Iterator[dict[str, str]]:
    paragraphs: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                paragraphs.append(line)
            elif paragraphs:
                yield {"text": "\n".join(paragraphs)}
                paragraphs = []
    if paragraphs:
        yield {"text": "\n".join(paragraphs)}


def _wikitext_heading_level(line: str) -> int:
    """0 for a paragraph, else the heading level (1 for ` = Title = `, 2 for ` = = Section = = `, ...)."""
    match = _HEADING.fullmatch(line)
    if match is None:
        return 0
    opening, closing = match.group(1).count("="), match.group(3).count("=")
    return opening if opening == closing and match.group(2).strip() else 0


def _detokenize_wikitext(line: str) -> str:
    for marker, replacement in _WIKITEXT_MARKERS:
        line = line.replace(marker, replacement)
    return line.strip()


def _read_wikitext(path: Path) -> Iterator[dict[str, str]]:
    paragraphs: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            level = _wikitext_heading_level(line)
            if level == 1:
                if paragraphs:
                    yield {"text": "\n".join(paragraphs)}
                paragraphs = []
            elif level == 0:
                paragraphs.append(_detokenize_wikitext(line))
    if paragraphs:
        yield {"text": "\n".join(paragraphs)}


def _read_jsonl(path: Path, text_column: str) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {number} is not valid JSON ({err}); expected JSON lines") from None
            if not isinstance(record, dict) or text_column not in record:
                keys = sorted(record) if isinstance(record, dict) else type(record).__name__
                raise ValueError(f"{path}: line {number} has no field {text_column!r}; it has: {keys}")
            text = record[text_column]
            if isinstance(text, str) and text.strip():
                yield {"text": text.strip()}


def _generate_documents(paths: list[str], formats: list[str], text_column: str) -> Iterator[dict[str, str]]:
    for path, file_format in zip(paths, formats):
        if file_format == "text":
            yield from _read_text(Path(path))
        elif file_format == "wikitext":
            yield from _read_wikitext(Path(path))
        else:
            yield from _read_jsonl(Path(path), text_column)


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def _local_files(sources: Sequence[str | os.PathLike]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CORPUS_FORMATS)
            if not found:
                present = sorted(p.name for p in path.iterdir())
                raise FileNotFoundError(
                    f"corpus folder {str(path)!r} holds no {'/'.join(CORPUS_FORMATS)} file; it holds: "
                    f"{', '.join(present) or 'nothing'}"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
    return files


def _looks_local(source: str | os.PathLike) -> bool:
    text = os.fspath(source)
    return (
        isinstance(source, os.PathLike)
        or os.path.exists(text)
        or text.startswith((".", "/", "~"))
        or Path(text).suffix.lower() in CORPUS_FORMATS
        or text.count("/") > 1
    )


def _available_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def load_corpus(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    text_column: str = "text",
    file_format: str | None = None,
    streaming: bool | None = None,
    config_name: str | None = None,
    split: str = "train",
    max_documents: int | None = None,
    shard_by_rank: bool = False,
    cache_dir: str | None = None,
) -> Dataset | IterableDataset:
    """Load a raw text corpus as documents: one row per document with the single column `text`.

    Args:
        source: a local file, a folder (its `.txt`/`.tokens`/`.jsonl`/`.json` files, sorted), a list of
            them, or a Hub dataset id (needs network access or a warm cache).
        text_column: the field holding the text in JSON-lines files and Hub datasets.
        file_format: force `"text"`, `"wikitext"` or `"jsonl"` for every local file instead of choosing
            by suffix (see `CORPUS_FORMATS`).
        streaming: `True` for an `IterableDataset` read lazily, `False` for a `Dataset` written once to
            cached Arrow files; `None` streams local files only when they are larger than the memory
            available now (and never streams a Hub dataset).
        config_name: the Hub dataset's configuration (e.g. `"wikitext-103-raw-v1"`).
        split: the Hub dataset's split.
        max_documents: keep only the first documents (handy for quick runs).
        shard_by_rank: keep only this process's part (see `shard_for_rank`).
        cache_dir: the `datasets` cache folder.

    Returns:
        A `Dataset`, or an `IterableDataset` when streaming; column `text`.

    Raises:
        FileNotFoundError: a missing file or a folder without corpus files (listing what it holds).
        ValueError: an unknown `file_format` or suffix, a JSON line without `text_column`, a Hub dataset
            without `text_column`, or a corpus with no (non-blank) document.
    """
    if file_format is not None and file_format not in set(CORPUS_FORMATS.values()):
        raise ValueError(
            f"unknown file_format {file_format!r}; valid: {', '.join(sorted(set(CORPUS_FORMATS.values())))}"
        )
    if max_documents is not None and max_documents < 1:
        raise ValueError(f"max_documents must be >= 1, got {max_documents!r}")
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise ValueError("no corpus source given")
    if len(sources) == 1 and not _looks_local(sources[0]):
        dataset = _load_hub_corpus(str(sources[0]), text_column, config_name, split, bool(streaming), cache_dir)
    else:
        dataset = _load_local_corpus(sources, text_column, file_format, streaming, cache_dir)
    if max_documents is not None:
        if isinstance(dataset, IterableDataset):
            dataset = dataset.take(max_documents)
        elif max_documents < len(dataset):
            dataset = dataset.select(range(max_documents))
    if shard_by_rank:
        dataset = shard_for_rank(dataset)
    return dataset


def _load_local_corpus(sources, text_column, file_format, streaming, cache_dir):
    files = _local_files(sources)
    formats = []
    for path in files:
        if file_format is not None:
            formats.append(file_format)
        elif path.suffix.lower() in CORPUS_FORMATS:
            formats.append(CORPUS_FORMATS[path.suffix.lower()])
        else:
            raise ValueError(
                f"{path}: unknown corpus file type {path.suffix!r}; supported: {', '.join(CORPUS_FORMATS)} "
                "(or pass file_format=)"
            )
    if streaming is None:
        total, available = sum(p.stat().st_size for p in files), _available_memory_bytes()
        streaming = available is not None and total > available
        if streaming:
            logger.info(f"streaming the corpus: its {total} bytes exceed the {available} bytes of free memory")
    gen_kwargs = {"paths": [str(p) for p in files], "formats": formats, "text_column": text_column}
    if streaming:
        return IterableDataset.from_generator(_generate_documents, features=_DOCUMENT_FEATURES, gen_kwargs=gen_kwargs)
    if not any(True for _ in _generate_documents(**gen_kwargs)):
        raise ValueError(f"the corpus {[str(p) for p in files]} holds no non-blank document")
    key = [_CACHE_VERSION, text_column, formats, *[file_signature(p) for p in files]]
    try:
        return Dataset.from_generator(
            _generate_documents,
            features=_DOCUMENT_FEATURES,
            gen_kwargs=gen_kwargs,
            cache_dir=cache_dir,
            fingerprint=Hasher.hash(key),
        )
    except DatasetGenerationError as err:  # show our reader's own error, not the wrapper
        if isinstance(err.__cause__, (ValueError, OSError)):
            raise err.__cause__ from None
        raise


def _load_hub_corpus(name, text_column, config_name, split, streaming, cache_dir):
    dataset = datasets.load_dataset(name, config_name, split=split, streaming=streaming, cache_dir=cache_dir)
    columns = dataset.column_names
    if columns is not None and text_column not in columns:
        raise ValueError(f"Hub dataset {name!r} has no column {text_column!r}; it has columns {columns}")
    if columns is not None and columns != [text_column]:
        dataset = dataset.select_columns([text_column])
    if text_column != "text":
        dataset = dataset.rename_column(text_column, "text")
    return dataset.filter(lambda row: bool(row["text"] and row["text"].strip()))


def shard_for_rank(
    dataset: Dataset | IterableDataset, rank: int | None = None, world_size: int | None = None
) -> Dataset | IterableDataset:
    """Keep the part of a dataset that belongs to one process of a multi-process job.

    Uses `datasets.distributed.split_dataset_by_node`: a map-style dataset is cut into contiguous
    chunks; a streamed one is split by shards (files) when their number divides `world_size`, else
    each process keeps every `world_size`-th example.

    Not for data given to `Trainer` / `DistillationTrainer`: they split their data across processes
    themselves, so a pre-split dataset would be split twice (the trainer refuses it). Use it in loops
    of your own.

    Args:
        dataset: the dataset.
        rank: this process's rank (default: `torch.distributed`'s when initialised, else `$RANK`, else 0).
        world_size: the number of processes (default: `torch.distributed`'s, else `$WORLD_SIZE`, else 1).

    Returns:
        This rank's part (the dataset itself when `world_size` is 1).

    Raises:
        ValueError: `rank` outside `[0, world_size)`.
    """
    if rank is None or world_size is None:
        default_rank, default_world_size = _distributed_rank_and_world_size()
        rank = default_rank if rank is None else rank
        world_size = default_world_size if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size): got rank={rank}, world_size={world_size}")
    if world_size == 1:
        return dataset
    return split_dataset_by_node(dataset, rank=rank, world_size=world_size)


def _distributed_rank_and_world_size() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# ----------------------------------------------------------------------------------------------------------
# Tokenising and packing
# ----------------------------------------------------------------------------------------------------------


def _pack_batch(batch, tokenizer, max_seq_length, unk_markers):
    texts = batch["text"]
    if unk_markers and tokenizer.unk_token is not None:
        for marker in unk_markers:
            texts = [text.replace(marker, tokenizer.unk_token) for text in texts]
    encoded = tokenizer(
        texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False, verbose=False
    )
    stream: list[int] = []
    for ids in encoded["input_ids"]:
        if ids:
            stream.extend(ids)
            stream.append(tokenizer.sep_token_id)  # documents end with [SEP], as BERT's segments do
    body = max_seq_length - 2
    blocks = [
        [tokenizer.cls_token_id, *stream[start : start + body], tokenizer.sep_token_id]
        for start in range(0, len(stream) - body + 1, body)
    ]
    return {
        "input_ids": blocks,
        "attention_mask": [[1] * max_seq_length for _ in blocks],
        "token_type_ids": [[0] * max_seq_length for _ in blocks],
    }


def pack_corpus(
    dataset: Dataset | IterableDataset,
    tokenizer: Any,
    max_seq_length: int = 128,
    *,
    batch_size: int = 1000,
    unk_markers: Sequence[str] = ("<unk>",),
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> Dataset | IterableDataset:
    """Tokenise documents and pack them into `[CLS] ... [SEP]` blocks of exactly `max_seq_length` tokens.

    Within each `map` batch of `batch_size` documents, the documents' tokens are concatenated, each
    document followed by `[SEP]`, and cut into bodies of `max_seq_length - 2` tokens; each body is
    wrapped as `[CLS] body [SEP]`. The last partial body of a batch is dropped (as `run_mlm.py`'s
    `group_texts` does), so no block needs padding. A map-style dataset's result is cached on disk.

    Args:
        dataset: documents in a `text` column (from `load_corpus`).
        tokenizer: a BERT-style tokenizer with `[CLS]` and `[SEP]` tokens.
        max_seq_length: the block length, special tokens included.
        batch_size: documents packed together (the remainder of each batch is dropped).
        unk_markers: strings replaced by the tokenizer's unknown token before tokenising (WikiText's
            `<unk>` would otherwise become `<`, `unk`, `>`).
        num_proc: worker processes for `map` (map-style datasets only).
        load_from_cache_file: reuse a cached result when there is one.

    Returns:
        Blocks with `input_ids`, `attention_mask` (all 1) and `token_type_ids` (all 0).

    Raises:
        ValueError: no `text` column, a tokenizer without `[CLS]`/`[SEP]`, a `max_seq_length` below 3,
            or (map-style) a corpus too small for a single block.
    """
    if not isinstance(max_seq_length, int) or max_seq_length < 3:
        raise ValueError(f"max_seq_length must be an int >= 3, got {max_seq_length!r}")
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise ValueError("pack_corpus needs a tokenizer with [CLS] and [SEP] tokens (cls_token_id, sep_token_id)")
    columns = dataset.column_names
    if columns is not None and "text" not in columns:
        raise ValueError(f"dataset has no 'text' column; it has columns {columns}")
    ids = List(Value("int32"))
    features = Features({"input_ids": ids, "attention_mask": ids, "token_type_ids": ids})
    kwargs: dict[str, Any] = {
        "fn_kwargs": {"tokenizer": tokenizer, "max_seq_length": max_seq_length, "unk_markers": tuple(unk_markers)},
        "batched": True,
        "batch_size": batch_size,
        "remove_columns": columns,
        "features": features,
    }
    if isinstance(dataset, IterableDataset):
        return dataset.map(_pack_batch, **kwargs)
    packed = dataset.map(
        _pack_batch,
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
        desc=f"Packing into blocks of {max_seq_length}",
        **kwargs,
    )
    if len(packed) == 0:
        raise ValueError(
            f"the corpus ({len(dataset)} documents) yields no block of {max_seq_length} tokens: every map batch of "
            f"{batch_size} documents has fewer tokens than that; use more text, a smaller max_seq_length or a "
            "larger batch_size"
        )
    return packed
