"""SQuAD v1.1 / v2.0: loading, an article-level split, overflow-with-stride features and n-best post-processing.

Examples have the columns of the Hub's `rajpurkar/squad`: `id`, `title`, `context`, `question` and
`answers` (`{"text": [...], "answer_start": [...]}`, empty lists for v2.0's unanswerable questions).
Features follow transformers' `examples/pytorch/question-answering` (`run_qa.py`, `utils_qa.py`): long
contexts are split into overlapping windows of `max_length` tokens, `doc_stride` tokens apart.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from datasets import Dataset, DatasetDict, Features, List, Value
from tqdm.auto import tqdm
from transformers.utils import logging

from .arrow_cache import file_signature, rows_to_cached_dataset

logger = logging.get_logger(__name__)

#: Hub datasets used when no local file is given: SQuAD v1.1 and v2.0.
SQUAD_HUB_ID = "rajpurkar/squad"
SQUAD_V2_HUB_ID = "rajpurkar/squad_v2"

#: The columns of a SQuAD example, as in the Hub datasets.
SQUAD_FEATURES = Features(
    {
        "id": Value("string"),
        "title": Value("string"),
        "context": Value("string"),
        "question": Value("string"),
        "answers": {"text": List(Value("string")), "answer_start": List(Value("int32"))},
    }
)


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def _column(dataset: Dataset, name: str) -> list[Any]:
    """A whole column as a Python list, read in one go (`dataset[name]` is a lazy `Column` in datasets 4+)."""
    return dataset.with_format(None).select_columns([name])[:][name]


def _require(obj: Any, keys: Sequence[str], path: Path, where: str) -> None:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: {where} is a {type(obj).__name__}, expected an object with keys {list(keys)}")
    for key in keys:
        if key not in obj:
            raise ValueError(f"{path}: {where} lacks the key {key!r}; it has keys {sorted(obj)}")


def _read_squad_json(path: Path, version_2_with_negative: bool) -> list[dict[str, Any]]:
    """Flatten an official SQuAD JSON file (data -> paragraphs -> qas) into one row per question."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
    _require(data, ["data"], path, "the top level")
    rows, seen, unanswerable, mismatched = [], set(), [], 0
    for a, article in enumerate(data["data"]):
        _require(article, ["title", "paragraphs"], path, f"article {a}")
        for p, paragraph in enumerate(article["paragraphs"]):
            _require(paragraph, ["context", "qas"], path, f"article {a} paragraph {p}")
            context = paragraph["context"]
            for q, qa in enumerate(paragraph["qas"]):
                _require(qa, ["id", "question", "answers"], path, f"article {a} paragraph {p} question {q}")
                if qa["id"] in seen:
                    raise ValueError(f"{path}: question id {qa['id']!r} appears twice")
                seen.add(qa["id"])
                texts, starts = [], []
                for n, answer in enumerate(qa["answers"]):
                    _require(answer, ["text", "answer_start"], path, f"answer {n} of question {qa['id']!r}")
                    texts.append(answer["text"])
                    starts.append(int(answer["answer_start"]))
                    if context[answer["answer_start"] : answer["answer_start"] + len(answer["text"])] != answer["text"]:
                        mismatched += 1
                if not texts:
                    unanswerable.append(qa["id"])
                rows.append(
                    {
                        "id": qa["id"],
                        "title": article["title"],
                        "context": context,
                        "question": qa["question"],
                        "answers": {"text": texts, "answer_start": starts},
                    }
                )
    if unanswerable and not version_2_with_negative:
        raise ValueError(
            f"{path}: {len(unanswerable)} question(s) have no answer (e.g. {unanswerable[:3]}); that is SQuAD v2.0 "
            "data: pass version_2_with_negative=True"
        )
    if mismatched:
        logger.warning(f"{path}: {mismatched} answer(s) whose text is not found at their answer_start in the context")
    if not rows:
        raise ValueError(f"{path} holds no questions")
    return rows


def load_squad(
    data_files: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    *,
    version_2_with_negative: bool = False,
    split: str | None = None,
    cache_dir: str | None = None,
) -> Dataset | DatasetDict:
    """Load SQuAD examples from an official-format JSON file, or from the Hub.

    Args:
        data_files: one SQuAD JSON file (`{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`,
            e.g. `dev-v1.1.json`), returned as one `Dataset`; a mapping `{split: file}`, returned as a
            `DatasetDict`; or `None` for the Hub (`rajpurkar/squad`, or `rajpurkar/squad_v2` with
            `version_2_with_negative`; needs network access or a warm cache).
        version_2_with_negative: SQuAD v2.0 data, where questions may have no answer. Without it, a
            question without answers is an error.
        split: with a mapping or the Hub, load only this split and return a `Dataset`.
        cache_dir: where `datasets` caches the loaded data.

    Returns:
        Examples with the columns `id`, `title`, `context`, `question`, `answers`.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a file that is not in the SQuAD format (naming the missing key and where), duplicate
            question ids, unanswerable questions without `version_2_with_negative`, or an unknown split.
    """
    if data_files is None:
        hub_id = SQUAD_V2_HUB_ID if version_2_with_negative else SQUAD_HUB_ID
        return datasets.load_dataset(hub_id, split=split, cache_dir=cache_dir)
    single = isinstance(data_files, (str, os.PathLike))
    files = {"train": data_files} if single else dict(data_files)
    if not files:
        raise ValueError("data_files is empty; give a path or a mapping {split: path}")
    if split is not None and not single:
        if split not in files:
            raise ValueError(f"split {split!r} is not in data_files; it has: {', '.join(files)}")
        files = {split: files[split]}
    loaded = {}
    for name, file in files.items():
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"SQuAD file {str(path)!r} does not exist")
        rows = _read_squad_json(path, version_2_with_negative)
        key = ["squad-json", version_2_with_negative, *file_signature(path), name]
        loaded[name] = rows_to_cached_dataset(rows, SQUAD_FEATURES, key, name, cache_dir)
        logger.info(f"loaded {len(rows)} SQuAD questions from {path}")
    if single or split is not None:
        return next(iter(loaded.values()))
    return DatasetDict(loaded)


def split_squad_by_article(
    dataset: Dataset,
    num_train_articles: int = 40,
    num_eval_articles: int | None = None,
    *,
    seed: int | None = None,
) -> DatasetDict:
    """Split SQuAD examples by article (title), so that no context is shared between the two parts.

    With the 48 articles of `dev-v1.1.json` (there is no train file beside the project), the defaults
    give 40 articles to train on and the remaining 8 to evaluate on.

    Args:
        dataset: SQuAD examples with a `title` column.
        num_train_articles: articles for the `train` part.
        num_eval_articles: articles for the `validation` part (default: all the others).
        seed: shuffle the articles with this seed first; `None` keeps the file's article order.

    Returns:
        A `DatasetDict` with `train` and `validation`.

    Raises:
        ValueError: the dataset has no `title` column or fewer articles than asked for.
    """
    if "title" not in dataset.column_names:
        raise ValueError(f"dataset has no 'title' column to split by article; it has columns {dataset.column_names}")
    titles = _column(dataset, "title")
    articles = list(dict.fromkeys(titles))
    if seed is not None:
        random.Random(seed).shuffle(articles)
    if num_eval_articles is None:
        num_eval_articles = len(articles) - num_train_articles
    if num_train_articles < 1 or num_eval_articles < 1 or num_train_articles + num_eval_articles > len(articles):
        raise ValueError(
            f"cannot split {len(articles)} articles into {num_train_articles} to train and {num_eval_articles} to "
            "evaluate: both need at least 1 and together at most the number of articles"
        )
    part = {title: "train" for title in articles[:num_train_articles]}
    part.update(
        {title: "validation" for title in articles[num_train_articles : num_train_articles + num_eval_articles]}
    )
    indices = {"train": [], "validation": []}
    for i, title in enumerate(titles):
        if title in part:
            indices[part[title]].append(i)
    return DatasetDict({name: dataset.select(idx) for name, idx in indices.items()})


# ----------------------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------------------


def _check_feature_args(dataset: Dataset, tokenizer: Any, max_length: int, doc_stride: int, columns: Sequence[str]):
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("SQuAD features need a fast tokenizer (offset mappings); got a slow one")
    if not isinstance(max_length, int) or max_length < 8:
        raise ValueError(f"max_length must be an int >= 8, got {max_length!r}")
    if not isinstance(doc_stride, int) or not 0 <= doc_stride < max_length:
        raise ValueError(f"doc_stride must be an int in [0, max_length={max_length}), got {doc_stride!r}")
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise ValueError(f"dataset lacks column(s) {missing}; it has columns {dataset.column_names}")


def _tokenize_windows(examples, tokenizer, max_length, doc_stride, padding):
    pad_on_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in examples["question"]]
    # A window must hold the question, the special tokens and more than `doc_stride` context tokens;
    # the tokenizers library panics (an uncatchable error) otherwise.
    question_lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    for example_id, length in zip(examples["id"], question_lengths):
        if max_length - specials - length <= doc_stride:
            raise ValueError(
                f"the question of example {example_id!r} has {length} tokens: with max_length={max_length} and "
                f"{specials} special tokens it leaves {max_length - specials - length} context tokens per window, "
                f"which must be more than doc_stride={doc_stride}; raise max_length or lower doc_stride"
            )
    first, second = (questions, examples["context"]) if pad_on_right else (examples["context"], questions)
    return tokenizer(
        first,
        second,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
        padding=padding,
    )


def _train_features_batch(examples, tokenizer, max_length, doc_stride, padding):
    pad_on_right = tokenizer.padding_side == "right"
    context_index = 1 if pad_on_right else 0
    encoded = _tokenize_windows(examples, tokenizer, max_length, doc_stride, padding)
    sample_mapping = encoded.pop("overflow_to_sample_mapping")
    offset_mapping = encoded.pop("offset_mapping")
    start_positions, end_positions = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = encoded["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        sequence_ids = encoded.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        if len(answers["answer_start"]) == 0:
            start_positions.append(cls_index)
            end_positions.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != context_index:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != context_index:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            # The answer is not inside this window: label it with the CLS index.
            start_positions.append(cls_index)
            end_positions.append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        start_positions.append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        end_positions.append(token_end + 1)
    return {
        "input_ids": encoded["input_ids"],
        "attention_mask": encoded["attention_mask"],
        "token_type_ids": encoded["token_type_ids"],
        "start_positions": start_positions,
        "end_positions": end_positions,
    }


def _eval_features_batch(examples, tokenizer, max_length, doc_stride, padding):
    context_index = 1 if tokenizer.padding_side == "right" else 0
    encoded = _tokenize_windows(examples, tokenizer, max_length, doc_stride, padding)
    sample_mapping = encoded.pop("overflow_to_sample_mapping")
    offset_mapping = []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        sequence_ids = encoded.sequence_ids(i)
        offset_mapping.append([list(o) if sequence_ids[k] == context_index else None for k, o in enumerate(offsets)])
    return {
        "input_ids": encoded["input_ids"],
        "attention_mask": encoded["attention_mask"],
        "token_type_ids": encoded["token_type_ids"],
        "offset_mapping": offset_mapping,
        "example_id": [examples["id"][s] for s in sample_mapping],
    }


_IDS = List(Value("int32"))


def prepare_squad_train_features(
    dataset: Dataset,
    tokenizer: Any,
    max_length: int = 384,
    doc_stride: int = 128,
    *,
    padding: bool | str = "max_length",
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> Dataset:
    """Turn SQuAD examples into training features: one row per window, with the answer's token span.

    A context longer than `max_length` (question and special tokens included) is split into windows
    that overlap by `doc_stride` tokens. A window that does not contain the (first) answer, and every
    window of an unanswerable v2.0 question, gets `start_positions = end_positions` = the CLS index.

    Args:
        dataset: SQuAD examples (`question`, `context`, `answers`).
        tokenizer: a fast tokenizer (offset mappings are needed).
        max_length: tokens per window; it must leave more than `doc_stride` context tokens beside the
            longest question.
        doc_stride: overlap, in tokens, between consecutive windows of one context.
        padding: `"max_length"` (default, as in `run_qa.py`) or `False` (pad per batch).
        num_proc: worker processes for `map`.
        load_from_cache_file: reuse a cached result when there is one.

    Returns:
        Features with `input_ids`, `attention_mask`, `token_type_ids`, `start_positions`, `end_positions`.

    Raises:
        ValueError: a slow tokenizer, bad `max_length`/`doc_stride`, missing columns, or a question too long
            to leave more than `doc_stride` context tokens in a window.
    """
    _check_feature_args(dataset, tokenizer, max_length, doc_stride, ["id", "question", "context", "answers"])
    features = Features(
        {
            "input_ids": _IDS,
            "attention_mask": _IDS,
            "token_type_ids": _IDS,
            "start_positions": Value("int64"),
            "end_positions": Value("int64"),
        }
    )
    windows = dict(tokenizer=tokenizer, max_length=max_length, doc_stride=doc_stride, padding=padding)
    return _map_windows(dataset, _train_features_batch, windows, features, num_proc, load_from_cache_file, "train")


def prepare_squad_eval_features(
    dataset: Dataset,
    tokenizer: Any,
    max_length: int = 384,
    doc_stride: int = 128,
    *,
    padding: bool | str = "max_length",
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> Dataset:
    """Turn SQuAD examples into evaluation features: windows with offsets back into the context.

    Args:
        dataset: SQuAD examples (`id`, `question`, `context`).
        tokenizer: a fast tokenizer.
        max_length: tokens per window.
        doc_stride: overlap, in tokens, between consecutive windows of one context.
        padding: `"max_length"` (default) or `False`.
        num_proc: worker processes for `map`.
        load_from_cache_file: reuse a cached result when there is one.

    Returns:
        Features with `input_ids`, `attention_mask`, `token_type_ids`, `offset_mapping` (a `[start, end]`
        character span per token, `None` outside the context) and `example_id`. Drop the last two
        columns before feeding a model (`Trainer` does that itself), keep them for
        `postprocess_qa_predictions`.

    Raises:
        ValueError: a slow tokenizer, bad `max_length`/`doc_stride`, missing columns, or a question too long
            to leave more than `doc_stride` context tokens in a window.
    """
    _check_feature_args(dataset, tokenizer, max_length, doc_stride, ["id", "question", "context"])
    features = Features(
        {
            "input_ids": _IDS,
            "attention_mask": _IDS,
            "token_type_ids": _IDS,
            "offset_mapping": List(List(Value("int32"))),
            "example_id": Value("string"),
        }
    )
    windows = dict(tokenizer=tokenizer, max_length=max_length, doc_stride=doc_stride, padding=padding)
    return _map_windows(dataset, _eval_features_batch, windows, features, num_proc, load_from_cache_file, "eval")


def _map_windows(dataset, batch_function, windows: dict, features, num_proc, load_from_cache_file, kind: str):
    return dataset.map(
        functools.partial(batch_function, **windows),
        batched=True,
        remove_columns=dataset.column_names,
        features=features,
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
        desc=f"SQuAD {kind} features",
    )


# ----------------------------------------------------------------------------------------------------------
# Post-processing
# ----------------------------------------------------------------------------------------------------------


def postprocess_qa_predictions(
    examples: Dataset,
    features: Dataset,
    predictions: tuple[np.ndarray, np.ndarray] | Sequence[np.ndarray],
    *,
    version_2_with_negative: bool = False,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, str]:
    """Turn start/end logits over the features back into one answer text per example.

    For every window of an example, the `n_best_size` best start and end tokens are paired; spans
    outside the context, reversed or longer than `max_answer_length` tokens are dropped, and the span
    with the highest `start_logit + end_logit` over all windows wins. With `version_2_with_negative`,
    the example's null score is the lowest CLS score (`start[0] + end[0]`) over its windows, and the
    answer is empty when `null_score - best_span_score > null_score_diff_threshold`.

    Args:
        examples: the SQuAD examples (`id`, `context`).
        features: their evaluation features from `prepare_squad_eval_features` (`example_id`,
            `offset_mapping`), in the order the logits were computed.
        predictions: `(start_logits, end_logits)`, each of shape `(num_features, sequence_length)`;
            positions past a feature's length (e.g. -100 padding added by `Trainer`) are ignored.
        version_2_with_negative: allow the empty (no-answer) prediction.
        n_best_size: candidates per start and per end.
        max_answer_length: longest answer, in tokens.
        null_score_diff_threshold: see above (v2.0 only).

    Returns:
        `{example id: answer text}`, in the examples' order.

    Raises:
        ValueError: `predictions` is not a pair, its length differs from the number of features, or a
            feature names an example that is not in `examples`.
    """
    if len(predictions) != 2:
        raise ValueError(f"predictions must be (start_logits, end_logits), got {len(predictions)} arrays")
    all_start_logits, all_end_logits = (np.asarray(p) for p in predictions)
    for column in ("example_id", "offset_mapping"):
        if column not in features.column_names:
            raise ValueError(f"features lack column {column!r}; they have columns {features.column_names}")
    if len(all_start_logits) != len(features) or len(all_end_logits) != len(features):
        raise ValueError(
            f"got {len(all_start_logits)} start and {len(all_end_logits)} end logit rows for {len(features)} features"
        )
    example_ids = _column(examples, "id")
    contexts = _column(examples, "context")
    index_of = {example_id: i for i, example_id in enumerate(example_ids)}
    features_per_example = collections.defaultdict(list)
    for i, example_id in enumerate(_column(features, "example_id")):
        if example_id not in index_of:
            raise ValueError(f"feature {i} belongs to example {example_id!r}, which is not in examples")
        features_per_example[index_of[example_id]].append(i)
    offset_mappings = _column(features, "offset_mapping")

    answers: dict[str, str] = {}
    for example_index in tqdm(range(len(example_ids)), desc="Post-processing", disable=len(example_ids) < 1000):
        best_score, best_span = None, None
        null_score = None
        for feature_index in features_per_example[example_index]:
            start_logits = all_start_logits[feature_index]
            end_logits = all_end_logits[feature_index]
            offsets = offset_mappings[feature_index]
            feature_null = float(start_logits[0] + end_logits[0])
            if null_score is None or feature_null < null_score:
                null_score = feature_null
            length = len(offsets)
            start_candidates = np.argsort(start_logits[:length])[::-1][:n_best_size]
            end_candidates = np.argsort(end_logits[:length])[::-1][:n_best_size]
            for start in start_candidates:
                if offsets[start] is None:
                    continue
                for end in end_candidates:
                    if offsets[end] is None or end < start or end - start + 1 > max_answer_length:
                        continue
                    score = float(start_logits[start] + end_logits[end])
                    if best_score is None or score > best_score:
                        best_score, best_span = score, (offsets[start][0], offsets[end][1])
        context = contexts[example_index]
        text = context[best_span[0] : best_span[1]] if best_span is not None else ""
        no_span_wins = best_span is None or (
            null_score is not None and null_score - best_score > null_score_diff_threshold
        )
        if version_2_with_negative and no_span_wins:
            text = ""
        answers[example_ids[example_index]] = text
    missing = sum(1 for i in range(len(example_ids)) if not features_per_example[i])
    if missing:
        logger.warning(f"{missing} example(s) have no features; their predicted answer is empty")
    return answers


def squad_metric_inputs(
    predictions: Mapping[str, str], examples: Dataset
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Arrange predicted answers and gold answers the way the SQuAD metric (`load_metric("squad")`) takes them.

    Args:
        predictions: `{example id: answer text}` from `postprocess_qa_predictions`.
        examples: the SQuAD examples (`id`, `answers`).

    Returns:
        `(predictions, references)`: `[{"id", "prediction_text"}]` and `[{"id", "answers"}]`, in the
        examples' order.

    Raises:
        ValueError: an example has no prediction.
    """
    ids = _column(examples, "id")
    missing = [i for i in ids if i not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} example(s) have no prediction, e.g. {missing[:3]}")
    formatted = [{"id": i, "prediction_text": predictions[i]} for i in ids]
    references = [{"id": i, "answers": a} for i, a in zip(ids, _column(examples, "answers"))]
    return formatted, references
