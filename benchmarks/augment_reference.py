"""A one-forward-per-word implementation of TinyBERT's augmentation, the yardstick for the batched one.

It walks a text the way the official `data_augmentation.py` does: basic tokenisation, word pieces per word,
and for every replaceable single-piece word its own masked-LM forward over the whole (masked) text, with the
logits of every position computed and the masked one read off. It shares no code with
`hf_tinybert.data.augment` except the stop-word list, the settings dataclass and (for multi-piece words) the
word-embedding source it is handed, so tests and `benchmarks/augment_speed.py` can check that the batched
implementation finds exactly the same candidates and, for the same seed, samples exactly the same texts.

To be comparable it follows the batched implementation's documented choices where the official code differs
(`mlm_input`, `mlm_candidate_rule`, the window around the masked word for long texts, words without
candidates are skipped when sampling); new texts are joined from the normalised words with spaces, as in the
official code.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from hf_tinybert.data.augment import AugmentationConfig, CandidateSource, WordInContext
from hf_tinybert.data.stop_words import ENGLISH_STOP_WORDS


def _replaceable(word: str) -> bool:
    return not re.search("[^a-z]", word.lower()) and word.lower() not in ENGLISH_STOP_WORDS


def _words_and_pieces(text: str, tokenizer) -> tuple[list[str], list[list[str]]]:
    backend = tokenizer.backend_tokenizer
    normalized = backend.normalizer.normalize_str(text) if backend.normalizer is not None else text
    words = [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
    return words, [tokenizer.tokenize(word) for word in words]


def _max_length(model, tokenizer) -> int:
    limits = [model.config.max_position_embeddings, tokenizer.model_max_length]
    return min(int(limit) for limit in limits if limit and limit < 1_000_000)


@torch.inference_mode()
def one_forward_per_word_candidates(
    text: str, model, tokenizer, config: AugmentationConfig | None = None
) -> dict[int, list[str]]:
    """Masked-LM candidates of every replaceable single-piece word of `text`, one forward per word.

    Args:
        text: the text.
        model: a masked LM (any `AutoModelForMaskedLM`), in eval mode.
        tokenizer: its fast WordPiece tokenizer.
        config: `top_k`, `mlm_input` and `mlm_candidate_rule` are used.

    Returns:
        word index (among all words of the text) -> candidates, most probable first.
    """
    config = config or AugmentationConfig()
    words, pieces = _words_and_pieces(text, tokenizer)
    all_pieces = [piece for word_pieces in pieces for piece in word_pieces]
    all_ids = tokenizer.convert_tokens_to_ids(all_pieces)
    max_length = _max_length(model, tokenizer)
    device = model.device
    vocab_size = model.get_input_embeddings().num_embeddings
    id_to_token = {token_id: token for token, token_id in tokenizer.get_vocab().items()}
    special_ids = set(tokenizer.all_special_ids)
    result: dict[int, list[str]] = {}
    first_piece = 0
    for index, (word, word_pieces) in enumerate(zip(words, pieces)):
        position = first_piece
        first_piece += len(word_pieces)
        if not _replaceable(word) or len(word_pieces) != 1:
            continue
        window = max_length - 2 if config.mlm_input == "masked" else (max_length - 3) // 2
        start = 0
        if len(all_ids) > window:
            start = min(max(0, position - window // 2), len(all_ids) - window)
        original = all_ids[start : start + window]
        masked = list(original)
        masked[position - start] = tokenizer.mask_token_id
        input_ids = [tokenizer.cls_token_id] + masked + [tokenizer.sep_token_id]
        kwargs = {}
        if config.mlm_input == "masked_and_original":
            segment_a = len(input_ids)
            input_ids = input_ids + original + [tokenizer.sep_token_id]
            if getattr(model.config, "type_vocab_size", 0) >= 2:
                token_types = [0] * segment_a + [1] * (len(input_ids) - segment_a)
                kwargs["token_type_ids"] = torch.tensor([token_types], device=device)
        logits = model(input_ids=torch.tensor([input_ids], device=device), **kwargs).logits
        scores = logits[0, 1 + position - start, :vocab_size].float()
        ranked = torch.argsort(scores, descending=True).tolist()
        if config.mlm_candidate_rule == "code":
            tokens = [id_to_token.get(i) for i in ranked[: config.top_k]]
            result[index] = [token for token in tokens if token is not None and not token.startswith("##")]
            continue
        candidates = []
        for token_id in ranked:
            token = id_to_token.get(token_id)
            if (
                token is None
                or token_id in special_ids
                or token_id == all_ids[position]
                or token.startswith("##")
                or (token.startswith("[") and token.endswith("]"))
            ):
                continue
            candidates.append(token)
            if len(candidates) == config.top_k:
                break
        result[index] = candidates
    return result


def reference_augment(
    text: str,
    index: int,
    model,
    tokenizer,
    config: AugmentationConfig | None = None,
    *,
    word_source: CandidateSource | None = None,
    column: int = 0,
) -> tuple[list[str], dict[int, list[str]]]:
    """Augment one text word by word: one MLM forward per single-piece word, one lookup per other word.

    Args:
        text: the text.
        index: its example index (seeds its random generator like `augment_dataset`).
        model: a masked LM in eval mode.
        tokenizer: its fast WordPiece tokenizer.
        config: augmentation settings.
        word_source: word-embedding source for multi-piece words (asked one word at a time), or `None`.
        column: text-column position (seeds the generator).

    Returns:
        (the original text followed by the distinct new texts, the candidates of each replaceable word by
        word index). New texts are the normalised words joined with spaces, as in the official code.
    """
    config = config or AugmentationConfig()
    words, pieces = _words_and_pieces(text, tokenizer)
    candidates = one_forward_per_word_candidates(text, model, tokenizer, config)
    if word_source is not None:
        all_ids = tuple(tokenizer.convert_tokens_to_ids([piece for word in pieces for piece in word]))
        first_piece = 0
        for word_index, (word, word_pieces) in enumerate(zip(words, pieces)):
            context = WordInContext(word, all_ids, first_piece, first_piece + len(word_pieces))
            first_piece += len(word_pieces)
            if _replaceable(word) and len(word_pieces) > 1 and word_source.handles(context):
                candidates[word_index] = word_source.find_candidates([context], config)[0]
    rng = np.random.default_rng([int(config.seed), int(index), int(column)])
    texts = [text]
    for _ in range(config.num_augmented):
        new_words = list(words)
        for word_index in sorted(candidates):
            if candidates[word_index] and rng.random() < config.replace_prob:
                choice = candidates[word_index][int(rng.integers(len(candidates[word_index])))]
                new_words[word_index] = choice
        new_text = " ".join(new_words)
        if new_words != words and new_text not in texts:
            texts.append(new_text)
    return texts, candidates


__all__ = ["one_forward_per_word_candidates", "reference_augment"]
