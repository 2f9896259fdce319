"""TinyBERT data augmentation (Jiao et al., 2020, Algorithm 1), batched.

For every word of a text (the tokenizer's basic tokenisation: whitespace and punctuation split, lower-cased by
uncased tokenizers) that is alphabetic and not a stop word, a list of up to K replacement candidates is found:

- a word that is a single word piece gets the K most probable words of a masked language model at its masked
  position (`MaskedLMCandidates`);
- a word of several pieces gets its K nearest cosine neighbours in a word-embedding space: GloVe / word2vec
  vectors (`WordVectorCandidates`) or, fully offline, the input-embedding table of the teacher (or of the masked
  LM), with the word's pieces averaged (`EmbeddingTableCandidates`).

Then N_a new texts are sampled: each candidate word is replaced, with probability p_t, by one of its candidates
drawn uniformly. The original text is kept first and duplicates are dropped, so an example yields at most
1 + N_a texts per text column. Sentence pairs: each text column is augmented separately while the other columns
(and the label) are carried over.

Where the paper and the official code differ, the paper is the default and the code's behaviour an option:

- `mlm_input="masked"` (paper): the MLM sees `[CLS] masked text [SEP]`. `"masked_and_original"` (code): it
  sees `[CLS] masked text [SEP] original text [SEP]` (segments 0 and 1), which lets it look at the word it is
  replacing.
- `mlm_candidate_rule="paper"`: the K most probable whole words: `##` pieces, special and `[unused]` tokens
  and the masked word itself are skipped, so every single-piece word gets exactly K candidates and a replaced
  word always changes. `"code"`: the K most probable tokens, then `##` pieces dropped (fewer than K may remain,
  and the masked word itself may be among them).

Other choices (all documented in docs/augmentation.md): texts keep their original spelling and spacing outside
the replaced words (the code re-joins lower-cased basic tokens with spaces); a replacement copies the case
pattern of the word it replaces; inputs longer than the MLM's limit are cut to a window centred on the masked
word instead of being skipped; words without candidates stay as they are (the code would "replace" them with
themselves).

Speed: the masked positions of many words and texts go through the MLM together. Requests are grouped by exact
sequence length, so no padding or attention mask is ever needed, every row is computed exactly as it would be
alone, and the output does not depend on the batch size or `num_proc` (checked bit-for-bit on CPU against
`augment_reference`, which runs one forward per word like the official code). Only the masked positions go
through the vocabulary projection. Randomness is drawn per (seed, example index, text column), so results do not
depend on batching either.
"""

from __future__ import annotations

import abc
import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch
from transformers.utils import logging

from ..utils import check_model_source
from .stop_words import ENGLISH_STOP_WORDS

logger = logging.get_logger(__name__)

MLM_INPUTS = ("masked", "masked_and_original")
MLM_CANDIDATE_RULES = ("paper", "code")

_REPLACEABLE_WORD = re.compile("[a-z]+")
_BRACKETED_TOKEN = re.compile(r"\[[^\]]*\]")


@dataclass
class AugmentationConfig:
    """Settings of TinyBERT's data augmentation (paper defaults).

    Args:
        replace_prob: p_t, the probability that a candidate word is replaced in a new text.
        num_augmented: N_a, how many new texts are sampled per text (duplicates are dropped, so an example
            gets at most this many).
        top_k: K, how many candidates each word gets.
        seed: seed of the sampling; the generator of each example is derived from (seed, example index,
            text column), so results do not depend on batch size or the number of processes.
        mlm_input: what the masked LM sees: `"masked"` (paper) or `"masked_and_original"` (official code).
        mlm_candidate_rule: which MLM predictions count as candidates: `"paper"` (the K most probable whole
            words, excluding the masked word) or `"code"` (the K most probable tokens minus `##` pieces).
    """

    replace_prob: float = field(
        default=0.4, metadata={"help": "p_t: probability that a word with candidates is replaced (paper: 0.4)."}
    )
    num_augmented: int = field(
        default=20, metadata={"help": "N_a: new texts sampled per text; duplicates are dropped (paper: 20)."}
    )
    top_k: int = field(default=15, metadata={"help": "K: candidates per word (paper: 15)."})
    seed: int = field(default=42, metadata={"help": "Seed; each example's generator is (seed, index, column)."})
    mlm_input: Literal["masked", "masked_and_original"] = field(
        default="masked",
        metadata={
            "help": "MLM input: 'masked' = [CLS] masked [SEP] (paper); 'masked_and_original' = "
            "[CLS] masked [SEP] original [SEP] (official code)."
        },
    )
    mlm_candidate_rule: Literal["paper", "code"] = field(
        default="paper",
        metadata={
            "help": "'paper': the K most probable whole words other than the masked word; 'code': the K most "
            "probable tokens with ## pieces dropped afterwards (official code)."
        },
    )

    def __post_init__(self):
        if not 0.0 <= self.replace_prob <= 1.0:
            raise ValueError(f"replace_prob (p_t) must be in [0, 1], got {self.replace_prob!r}")
        if int(self.num_augmented) != self.num_augmented or self.num_augmented < 1:
            raise ValueError(f"num_augmented (N_a) must be an integer >= 1, got {self.num_augmented!r}")
        if int(self.top_k) != self.top_k or self.top_k < 1:
            raise ValueError(f"top_k (K) must be an integer >= 1, got {self.top_k!r}")
        if self.mlm_input not in MLM_INPUTS:
            raise ValueError(f"mlm_input must be one of {', '.join(MLM_INPUTS)}; got {self.mlm_input!r}")
        if self.mlm_candidate_rule not in MLM_CANDIDATE_RULES:
            raise ValueError(
                f"mlm_candidate_rule must be one of {', '.join(MLM_CANDIDATE_RULES)}; got {self.mlm_candidate_rule!r}"
            )


@dataclass(frozen=True)
class WordInContext:
    """One word of a text, as a candidate source sees it.

    Attributes:
        text: the word as the tokenizer normalises it (lower-cased and accent-stripped by uncased tokenizers).
        piece_ids: word-piece ids of the whole text, without special tokens.
        piece_start: index in `piece_ids` of the word's first piece.
        piece_end: index in `piece_ids` after the word's last piece.
    """

    text: str
    piece_ids: tuple[int, ...]
    piece_start: int
    piece_end: int

    @property
    def num_pieces(self) -> int:
        """How many word pieces the word has."""
        return self.piece_end - self.piece_start


@dataclass(frozen=True)
class WordCandidates:
    """The replacement candidates found for one replaceable word of a text.

    Attributes:
        index: position of the word among all words of the text (basic tokenisation).
        word: the normalised word.
        start: offset of the word's first character in the text.
        end: offset after the word's last character in the text.
        source: `name` of the candidate source that gave the candidates, or `""` when no source handles it.
        candidates: the candidates, most likely / nearest first (may be empty: the word then stays).
    """

    index: int
    word: str
    start: int
    end: int
    source: str
    candidates: tuple[str, ...]


class CandidateSource(abc.ABC):
    """Gives replacement candidates for words; subclass it to plug in another source.

    `augment_dataset` asks the sources in order: each word goes to the first source whose `handles` accepts
    it. A source that works in a word-piece vocabulary exposes its tokenizer as `tokenizer`; it must have the
    same vocabulary as the tokenizer the texts are split with.
    """

    #: Short name recorded in `WordCandidates.source`.
    name: str = "source"
    #: The tokenizer whose vocabulary the source works in, or `None` for a vocabulary-free source.
    tokenizer = None

    def handles(self, word: WordInContext) -> bool:
        """Whether this source gives the candidates of `word` (default: every word)."""
        return True

    @abc.abstractmethod
    def find_candidates(self, words: Sequence[WordInContext], config: AugmentationConfig) -> list[list[str]]:
        """Return up to `config.top_k` candidates for each word, best first (batched over `words`)."""

    def describe(self) -> str:
        """A one-line description (used in logs and in the dataset fingerprint)."""
        return type(self).__name__


def _tokenizer_limit(model_limit: int | None, tokenizer) -> int:
    limits = [limit for limit in (model_limit, getattr(tokenizer, "model_max_length", None)) if limit]
    limits = [int(limit) for limit in limits if limit < 1_000_000]
    return min(limits) if limits else 512


def _check_wordpiece_tokenizer(tokenizer, what: str) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    model_kind = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    if model_kind != "WordPiece":
        raise ValueError(
            f"{what} must be a fast WordPiece tokenizer (BERT family) to split words into pieces; got a "
            f"{model_kind} tokenizer ({type(tokenizer).__name__})"
        )


def _model_and_tokenizer(model, tokenizer, auto_class, owner: str, what: str):
    """Load `model` (and its tokenizer) when given paths; check that the tokenizer is WordPiece and fits the model's
    input embeddings.

    Raises:
        ValueError: a model object without a tokenizer, a tokenizer that is not WordPiece, or one with more tokens
            than the model has input embeddings.
    """
    from transformers import AutoTokenizer

    if isinstance(model, (str, os.PathLike)):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer or model)
        model = auto_class.from_pretrained(model)
    elif tokenizer is None:
        raise ValueError(f"{owner} needs the {what}'s tokenizer when given a model object")
    elif isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    _check_wordpiece_tokenizer(tokenizer, f"the {what}'s tokenizer")
    embeddings = model.get_input_embeddings()
    if embeddings is None or embeddings.num_embeddings < len(tokenizer):
        size = None if embeddings is None else embeddings.num_embeddings
        raise ValueError(
            f"the {what} has {size} input embeddings but its tokenizer has {len(tokenizer)} tokens: "
            "the tokenizer does not belong to the model"
        )
    return model, tokenizer


def _id_to_token(tokenizer) -> list[str | None]:
    vocab = tokenizer.get_vocab()
    tokens: list[str | None] = [None] * (max(vocab.values()) + 1)
    for token, token_id in vocab.items():
        tokens[token_id] = token
    return tokens


def _whole_word_mask(tokenizer, size: int, *, alphabetic: bool) -> torch.Tensor:
    """True for ids of tokens that can stand for a whole word (not `##` pieces, special or `[...]` tokens)."""
    tokens = _id_to_token(tokenizer)
    special = set(tokenizer.all_special_ids)
    mask = torch.zeros(size, dtype=torch.bool)
    for token_id, token in enumerate(tokens[:size]):
        if token is None or token_id in special or token.startswith("##") or _BRACKETED_TOKEN.fullmatch(token):
            continue
        if alphabetic and not token.isalpha():
            continue
        mask[token_id] = True
    return mask


class MaskedLMCandidates(CandidateSource):
    """Candidates for single-piece words: the top-K predictions of a masked LM at the masked word.

    Many masked positions (of many texts) go through the model in one forward; requests are grouped by exact
    sequence length (no padding), and texts longer than the model's limit are cut to a window centred on the
    masked word.

    Args:
        model: an `AutoModelForMaskedLM` path or Hub id, or a loaded masked-LM model.
        tokenizer: its tokenizer (path or object); default: loaded from `model` when that is a path.
        max_tokens_per_forward: token budget of one forward (rows = budget // sequence length, at least 1).
        device: where to run the model (default: where it is).

    Raises:
        ValueError: if the tokenizer is missing, not a WordPiece tokenizer, or has ids the model lacks.
    """

    name = "masked_lm"

    def __init__(self, model, tokenizer=None, *, max_tokens_per_forward: int = 2048, device=None):
        from transformers import AutoModelForMaskedLM

        if max_tokens_per_forward < 1:
            raise ValueError(f"max_tokens_per_forward must be >= 1, got {max_tokens_per_forward!r}")
        model, tokenizer = _model_and_tokenizer(
            model, tokenizer, AutoModelForMaskedLM, "MaskedLMCandidates", "masked LM"
        )
        if device is not None:
            model = model.to(device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_tokens_per_forward = int(max_tokens_per_forward)
        self.max_length = _tokenizer_limit(getattr(model.config, "max_position_embeddings", None), tokenizer)
        self._vocab_size = model.get_input_embeddings().num_embeddings
        self._whole_words: torch.Tensor | None = None
        self._pieces: torch.Tensor | None = None
        self._tokens: list[str | None] | None = None

    def describe(self) -> str:
        return f"MaskedLMCandidates({getattr(self.model, 'name_or_path', '') or type(self.model).__name__})"

    def handles(self, word: WordInContext) -> bool:
        """Single-piece words only (multi-piece words need a word-embedding source)."""
        return word.num_pieces == 1

    def _token_tables(self):
        if self._tokens is None:
            tokens = _id_to_token(self.tokenizer)[: self._vocab_size]
            self._tokens = tokens + [None] * (self._vocab_size - len(tokens))
            self._whole_words = _whole_word_mask(self.tokenizer, self._vocab_size, alphabetic=False)
            pieces = torch.zeros(self._vocab_size, dtype=torch.bool)
            for token_id, token in enumerate(self._tokens[: self._vocab_size]):
                pieces[token_id] = token is not None and token.startswith("##")
            self._pieces = pieces
        return self._tokens, self._whole_words, self._pieces

    def build_input(self, word: WordInContext, mlm_input: str) -> tuple[list[int], list[int] | None, int]:
        """The MLM input for one word: token ids, token type ids (or `None`) and the masked position."""
        tok = self.tokenizer
        ids = word.piece_ids
        position = word.piece_start
        special = 2 if mlm_input == "masked" else 3
        window = self.max_length - special if mlm_input == "masked" else (self.max_length - special) // 2
        start = 0
        if len(ids) > window:
            start = min(max(0, position - window // 2), len(ids) - window)
        original = list(ids[start : start + window])
        masked = list(original)
        masked[position - start] = tok.mask_token_id
        input_ids = [tok.cls_token_id, *masked, tok.sep_token_id]
        token_types = None
        if mlm_input == "masked_and_original":
            first = len(input_ids)
            input_ids += [*original, tok.sep_token_id]
            if getattr(self.model.config, "type_vocab_size", 0) >= 2:
                token_types = [0] * first + [1] * (len(input_ids) - first)
        return input_ids, token_types, 1 + position - start

    @torch.inference_mode()
    def masked_logits(self, input_ids: torch.Tensor, token_types: torch.Tensor | None, positions: torch.Tensor):
        """Logits at one masked position per row of `input_ids` (all rows the same length, no padding).

        The vocabulary projection runs only on the masked positions (a pre-hook on the output embeddings).
        """
        device = self.model.device
        input_ids = input_ids.to(device)
        rows = torch.arange(input_ids.shape[0], device=device)
        positions = positions.to(device)
        kwargs = {"input_ids": input_ids}
        if token_types is not None:
            kwargs["token_type_ids"] = token_types.to(device)
        decoder = self.model.get_output_embeddings()
        if decoder is not None:

            def keep_masked_rows(module, args):
                return (args[0][rows, positions], *args[1:])

            handle = decoder.register_forward_pre_hook(keep_masked_rows)
            try:
                logits = self.model(**kwargs).logits
            finally:
                handle.remove()
            if logits.dim() == 2 and logits.shape[0] == input_ids.shape[0]:
                return logits.float()
            logger.warning_once("masked LM output has an unexpected shape; computing logits at every position")
        return self.model(**kwargs).logits[rows, positions].float()

    def select_candidates(self, logits: torch.Tensor, masked_ids: Sequence[int], config: AugmentationConfig):
        """Turn masked-position logits (rows) into candidate word lists under `config.mlm_candidate_rule`."""
        tokens, whole_words, pieces = self._token_tables()
        logits = logits[:, : self._vocab_size]
        if config.mlm_candidate_rule == "paper":
            scores = logits.masked_fill(~whole_words.to(logits.device), float("-inf"))
            scores[torch.arange(len(masked_ids)), torch.as_tensor(masked_ids)] = float("-inf")
            k = min(config.top_k, int(whole_words.sum()))
            values, ids = torch.topk(scores, k, dim=1)
            return [
                [tokens[i] for i, v in zip(row_ids, row_values) if v != float("-inf")]
                for row_ids, row_values in zip(ids.tolist(), values.tolist())
            ]
        ids = torch.topk(logits, min(config.top_k, logits.shape[1]), dim=1).indices
        return [[tokens[i] for i in row if tokens[i] is not None and not pieces[i]] for row in ids.tolist()]

    def find_candidates(self, words: Sequence[WordInContext], config: AugmentationConfig) -> list[list[str]]:
        requests = [self.build_input(word, config.mlm_input) for word in words]
        by_length: dict[int, list[int]] = {}
        for number, (input_ids, _, _) in enumerate(requests):
            by_length.setdefault(len(input_ids), []).append(number)
        results: list[list[str]] = [[] for _ in words]
        for length in sorted(by_length):
            numbers = by_length[length]
            rows_per_forward = max(1, self.max_tokens_per_forward // length)
            for first in range(0, len(numbers), rows_per_forward):
                chunk = numbers[first : first + rows_per_forward]
                input_ids = torch.tensor([requests[n][0] for n in chunk])
                token_types = None if requests[chunk[0]][1] is None else torch.tensor([requests[n][1] for n in chunk])
                positions = torch.tensor([requests[n][2] for n in chunk])
                logits = self.masked_logits(input_ids, token_types, positions).cpu()
                masked_ids = [words[n].piece_ids[words[n].piece_start] for n in chunk]
                for n, candidates in zip(chunk, self.select_candidates(logits, masked_ids, config)):
                    results[n] = candidates
        return results


class _NearestNeighbourSource(CandidateSource):
    """Shared part of the word-embedding sources: cached cosine top-K over a candidate matrix."""

    def __init__(self, candidate_words: list[str], candidate_vectors: torch.Tensor):
        self._candidate_words = candidate_words
        self._candidate_unit = torch.nn.functional.normalize(candidate_vectors.float(), dim=1)
        self._cache: dict[tuple[int, str], list[str]] = {}

    @abc.abstractmethod
    def _word_vector(self, word: WordInContext) -> torch.Tensor:
        """The vector of `word` (any norm)."""

    def find_candidates(self, words: Sequence[WordInContext], config: AugmentationConfig) -> list[list[str]]:
        todo: dict[str, WordInContext] = {}
        for word in words:
            if (config.top_k, word.text) not in self._cache:
                todo.setdefault(word.text, word)
        k = min(config.top_k + 1, len(self._candidate_words))
        for text, word in todo.items():
            # one matrix-vector product per word: the same arithmetic whatever else is in the batch
            unit = torch.nn.functional.normalize(self._word_vector(word).float(), dim=0)
            row = torch.topk(self._candidate_unit @ unit, k).indices.tolist()
            found = [self._candidate_words[i] for i in row if self._candidate_words[i] != text]
            self._cache[config.top_k, text] = found[: config.top_k]
        return [list(self._cache[config.top_k, word.text]) for word in words]


class WordVectorCandidates(_NearestNeighbourSource):
    """Candidates from GloVe / word2vec vectors: the K nearest words by cosine similarity.

    Reads a text file with one `word v1 v2 ... vd` line per word (GloVe), optionally after a `count dim`
    header line (word2vec text format). Like the official code, only the first `max_words` lines are read
    (the most frequent words in GloVe files) and the word itself is excluded from its neighbours. Words not in
    the file are not handled (they go to the next source, or stay unchanged).

    Args:
        path: the vector file (`glove.42B.300d.txt`, a word2vec `.txt`/`.vec` file, ...).
        max_words: read at most this many words.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the file has no vectors or inconsistent dimensions.
    """

    name = "word_vectors"

    def __init__(self, path: str | os.PathLike, *, max_words: int | None = 100_000):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"word-vector file {path!r} does not exist (expected a GloVe/word2vec text file)")
        if max_words is not None and max_words < 1:
            raise ValueError(f"max_words must be >= 1 or None, got {max_words!r}")
        words, rows, dim = [], [], None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line_number, line in enumerate(f, start=1):
                items = line.rstrip("\n").rstrip().split(" ")
                if line_number == 1 and len(items) == 2 and all(item.isdigit() for item in items):
                    continue  # word2vec header: "<count> <dim>"
                if len(items) < 2:
                    continue
                if dim is None:
                    dim = len(items) - 1
                if len(items) != dim + 1:
                    raise ValueError(
                        f"{path}:{line_number}: expected a word and {dim} numbers, got {len(items) - 1} numbers"
                    )
                words.append(items[0])
                rows.append(np.asarray(items[1:], dtype=np.float32))
                if max_words is not None and len(words) >= max_words:
                    break
        if not words:
            raise ValueError(f"{path}: no word vectors found (expected lines like 'word 0.1 0.2 ...')")
        self.path = path
        self._index = {word: number for number, word in enumerate(words)}
        vectors = torch.from_numpy(np.stack(rows))
        super().__init__(words, vectors)

    @classmethod
    def from_vectors(cls, words: Sequence[str], vectors) -> WordVectorCandidates:
        """Build the source from in-memory words and a (len(words), dim) array of vectors."""
        source = cls.__new__(cls)
        source.path = None
        source._index = {word: number for number, word in enumerate(words)}
        _NearestNeighbourSource.__init__(source, list(words), torch.as_tensor(np.asarray(vectors, dtype=np.float32)))
        return source

    def describe(self) -> str:
        return f"WordVectorCandidates({self.path or 'in-memory'}, {len(self._candidate_words)} words)"

    def _lookup(self, text: str) -> int | None:
        index = self._index.get(text)
        return self._index.get(text.lower()) if index is None else index

    def handles(self, word: WordInContext) -> bool:
        """Words that are in the vector file (exactly or lower-cased)."""
        return self._lookup(word.text) is not None

    def _word_vector(self, word: WordInContext) -> torch.Tensor:
        return self._candidate_unit[self._lookup(word.text)]


class EmbeddingTableCandidates(_NearestNeighbourSource):
    """Candidates from a model's own input-embedding table: works offline with just the teacher.

    A word's vector is its word-piece embedding (the average of its pieces' embeddings for a multi-piece
    word); candidates are the K nearest vocabulary tokens by cosine similarity among the alphabetic
    whole-word tokens (no `##` pieces, special or `[unused]` tokens), the word itself excluded. Only the
    embedding table is kept, not the model.

    Args:
        model: a model path / Hub id (loaded with `AutoModel`) or a loaded model (the teacher, or a masked LM).
        tokenizer: its tokenizer (path or object); default: loaded from `model` when that is a path.

    Raises:
        ValueError: if the tokenizer is missing, not a WordPiece tokenizer, or larger than the table.
    """

    name = "embedding_table"

    def __init__(self, model, tokenizer=None):
        from transformers import AutoModel

        model, tokenizer = _model_and_tokenizer(model, tokenizer, AutoModel, "EmbeddingTableCandidates", "model")
        self.tokenizer = tokenizer
        self.model_name = getattr(model, "name_or_path", "") or type(model).__name__
        self._table = model.get_input_embeddings().weight.detach().float().cpu().clone()
        allowed = _whole_word_mask(tokenizer, self._table.shape[0], alphabetic=True)
        tokens = _id_to_token(tokenizer)
        self._allowed_ids = allowed.nonzero().flatten()
        super().__init__([tokens[i] for i in self._allowed_ids.tolist()], self._table[self._allowed_ids])

    def describe(self) -> str:
        return f"EmbeddingTableCandidates({self.model_name}, {len(self._candidate_words)} candidate tokens)"

    def _word_vector(self, word: WordInContext) -> torch.Tensor:
        ids = torch.tensor(word.piece_ids[word.piece_start : word.piece_end])
        return self._table[ids].mean(dim=0)


def is_replaceable(word: str) -> bool:
    """Whether augmentation may replace `word`: alphabetic (a-z after lower-casing) and not a stop word."""
    lowered = word.lower()
    return _REPLACEABLE_WORD.fullmatch(lowered) is not None and lowered not in ENGLISH_STOP_WORDS


@dataclass(frozen=True)
class _Word:
    index: int
    start: int
    end: int
    context: WordInContext


def _split_words(texts: Sequence[str], tokenizer) -> list[list[_Word]]:
    """Basic tokenisation + word pieces of every text, with each word's character span in the text."""
    encoding = tokenizer(
        list(texts), add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
    )
    normalizer = tokenizer.backend_tokenizer.normalizer
    result = []
    for number, text in enumerate(texts):
        piece_ids = tuple(encoding["input_ids"][number])
        offsets = encoding["offset_mapping"][number]
        word_ids = encoding.word_ids(number)
        words: list[_Word] = []
        position = 0
        while position < len(piece_ids):
            end = position + 1
            while end < len(piece_ids) and word_ids[end] == word_ids[position]:
                end += 1
            start_char, end_char = offsets[position][0], offsets[end - 1][1]
            surface = text[start_char:end_char]
            normalized = normalizer.normalize_str(surface) if normalizer is not None else surface
            context = WordInContext(normalized, piece_ids, position, end)
            words.append(_Word(len(words), start_char, end_char, context))
            position = end
        result.append(words)
    return result


def _as_sources(candidates) -> list[CandidateSource]:
    if candidates is None:
        return []
    if isinstance(candidates, CandidateSource):
        return [candidates]
    sources = list(candidates)
    for source in sources:
        if not isinstance(source, CandidateSource):
            raise ValueError(
                f"candidate sources must be CandidateSource objects (MaskedLMCandidates, WordVectorCandidates, "
                f"EmbeddingTableCandidates or a subclass); got {type(source).__name__}"
            )
    return sources


def resolve_tokenizer(sources: Sequence[CandidateSource], tokenizer=None):
    """The tokenizer texts are split with; checks that every source works in the same vocabulary.

    Args:
        sources: the candidate sources.
        tokenizer: the student's (or teacher's) tokenizer, a path or an object; default: the first source's.

    Raises:
        ValueError: if no tokenizer is available, it is not a WordPiece tokenizer, or a source's vocabulary
            differs from it.
    """
    if isinstance(tokenizer, (str, os.PathLike)):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    with_vocab = [source for source in sources if source.tokenizer is not None]
    if tokenizer is None:
        if not with_vocab:
            raise ValueError(
                "no tokenizer to split texts into words and pieces: give the student's tokenizer (tokenizer= / "
                "--tokenizer) when the only candidate sources are word vectors"
            )
        tokenizer = with_vocab[0].tokenizer
    _check_wordpiece_tokenizer(tokenizer, "the tokenizer")
    vocab = tokenizer.get_vocab()
    for source in with_vocab:
        if source.tokenizer is tokenizer:
            continue
        other = source.tokenizer.get_vocab()
        if other != vocab:
            differing = sorted(set(vocab.items()) ^ set(other.items()))[:3]
            raise ValueError(
                f"{source.describe()} works in a different vocabulary ({len(other)} tokens) than the tokenizer "
                f"({len(vocab)} tokens), e.g. differing entries {differing}; use a masked LM / teacher whose "
                "vocabulary is the student's"
            )
    return tokenizer


def resolve_candidate_sources(candidates=None, *, teacher=None, tokenizer=None) -> list[CandidateSource]:
    """The candidate sources to use: `candidates`, else the teacher's input-embedding table.

    Args:
        candidates: a `CandidateSource` or a sequence of them (asked in order), or `None`.
        teacher: fallback when `candidates` is `None`: a teacher path / Hub id or model object.
        tokenizer: the teacher's tokenizer when `teacher` is a model object.

    Raises:
        ValueError: if there are neither candidate sources nor a teacher.
    """
    sources = _as_sources(candidates)
    if sources:
        return sources
    if teacher is None:
        raise ValueError(
            "no candidate source: pass candidates= (MaskedLMCandidates, WordVectorCandidates and/or "
            "EmbeddingTableCandidates) or a teacher= whose input-embedding table gives the candidates"
        )
    return [EmbeddingTableCandidates(teacher, tokenizer)]


def build_candidate_sources(
    masked_lm=None,
    word_vectors: str | os.PathLike | None = None,
    teacher=None,
    *,
    tokenizer=None,
    word_vectors_max_words: int | None = 100_000,
    mlm_max_tokens_per_forward: int = 2048,
    device=None,
) -> list[CandidateSource]:
    """The sources of the paper's recipe from what is available (the CLI's rule).

    Single-piece words get masked-LM predictions when `masked_lm` is given; every other word gets neighbours
    in the word-embedding space: `word_vectors` if given, else the input-embedding table of `teacher`, else
    that of `masked_lm`.

    Args:
        masked_lm: a masked LM path / Hub id or model object (`tokenizer` needed for an object).
        word_vectors: a GloVe / word2vec text file.
        teacher: a teacher path / Hub id or model object (`tokenizer` needed for an object).
        tokenizer: the tokenizer of `masked_lm` / `teacher` when they are model objects (a model given by path
            loads its own).
        word_vectors_max_words: read at most this many word vectors.
        mlm_max_tokens_per_forward: token budget of one masked-LM forward.
        device: device of the masked LM.

    Raises:
        ValueError: if none of `masked_lm`, `word_vectors`, `teacher` is given.
    """
    if masked_lm is None and word_vectors is None and teacher is None:
        raise ValueError(
            "no candidate source: give a masked LM, a word-vector file, or a teacher (whose input-embedding "
            "table is the offline fallback)"
        )

    for model, flag in ((masked_lm, "--masked_lm"), (teacher, "--teacher")):
        if isinstance(model, (str, os.PathLike)):
            check_model_source(model, flag)

    def own_tokenizer(model):  # a model given by path loads its own tokenizer (checked against the student's later)
        return None if isinstance(model, (str, os.PathLike)) else tokenizer

    sources: list[CandidateSource] = []
    mlm = None
    if masked_lm is not None:
        mlm = MaskedLMCandidates(
            masked_lm, own_tokenizer(masked_lm), max_tokens_per_forward=mlm_max_tokens_per_forward, device=device
        )
        sources.append(mlm)
    if word_vectors is not None:
        sources.append(WordVectorCandidates(word_vectors, max_words=word_vectors_max_words))
    elif teacher is not None:
        sources.append(EmbeddingTableCandidates(teacher, own_tokenizer(teacher)))
    else:
        sources.append(EmbeddingTableCandidates(mlm.model, mlm.tokenizer))
    return sources


def _find_candidates(texts: Sequence[str], sources, tokenizer, config) -> list[list[WordCandidates]]:
    split = _split_words(texts, tokenizer)
    assigned: dict[int, list[tuple[int, _Word]]] = {}
    replaceable: list[list[tuple[_Word, int]]] = []
    for text_number, words in enumerate(split):
        chosen = []
        for word in words:
            if not is_replaceable(word.context.text):
                continue
            source_number = next((n for n, source in enumerate(sources) if source.handles(word.context)), -1)
            chosen.append((word, source_number))
            if source_number >= 0:
                assigned.setdefault(source_number, []).append((text_number, word))
        replaceable.append(chosen)
    found: dict[tuple[int, int], list[str]] = {}
    for source_number, items in assigned.items():
        lists = sources[source_number].find_candidates([word.context for _, word in items], config)
        for (text_number, word), candidates in zip(items, lists):
            found[text_number, word.index] = candidates
    return [
        [
            WordCandidates(
                index=word.index,
                word=word.context.text,
                start=word.start,
                end=word.end,
                source=sources[source_number].name if source_number >= 0 else "",
                candidates=tuple(found.get((text_number, word.index), ())),
            )
            for word, source_number in chosen
        ]
        for text_number, chosen in enumerate(replaceable)
    ]


def find_word_candidates(
    texts: Sequence[str], candidates, config: AugmentationConfig | None = None, *, tokenizer=None
) -> list[list[WordCandidates]]:
    """The candidates of every replaceable word of each text (batched over all texts).

    Args:
        texts: the texts.
        candidates: a `CandidateSource` or a sequence of them; each word goes to the first that handles it.
        config: augmentation settings (`top_k`, `mlm_input`, `mlm_candidate_rule`).
        tokenizer: the tokenizer to split texts with (default: the first source's).

    Returns:
        For each text, one `WordCandidates` per replaceable word (alphabetic, not a stop word), in text order.
    """
    config = config or AugmentationConfig()
    sources = _as_sources(candidates)
    if not sources:
        raise ValueError("find_word_candidates needs at least one candidate source")
    tokenizer = resolve_tokenizer(sources, tokenizer)
    bad = [type(text).__name__ for text in texts if not isinstance(text, str)]
    if bad:
        raise ValueError(f"texts must be strings; got {', '.join(sorted(set(bad)))}")
    return _find_candidates(texts, sources, tokenizer, config)


def example_rng(seed: int, index: int, column: int = 0) -> np.random.Generator:
    """The random generator of one text: derived from (seed, example index, text column position)."""
    return np.random.default_rng([int(seed), int(index), int(column)])


def match_case(candidate: str, original: str) -> str:
    """Give `candidate` the case pattern of `original`: all capitals, a capital first letter, or unchanged."""
    if len(original) > 1 and original.isupper():
        return candidate.upper()
    if original[:1].isupper():
        return candidate[:1].upper() + candidate[1:]
    return candidate


def sample_augmentations(
    text: str, words: Sequence[WordCandidates], config: AugmentationConfig, rng: np.random.Generator
) -> list[str]:
    """Algorithm 1's sampling: `config.num_augmented` tries, each replacing every word with probability p_t.

    Each try draws, for every word with candidates in text order, u ~ U(0, 1) and, when u < p_t, a candidate
    uniformly. Replaced words are spliced into the original text (the rest of it is kept as it is).

    Returns:
        The original text first, then the distinct new texts in the order they were drawn.
    """
    spans = [(word.start, word.end, word.candidates) for word in words if word.candidates]
    texts = [text]
    seen = {text}
    for _ in range(config.num_augmented):
        pieces, cursor = [], 0
        for start, end, candidates in spans:
            if rng.random() < config.replace_prob:
                choice = candidates[int(rng.integers(len(candidates)))]
                pieces += [text[cursor:start], match_case(choice, text[start:end])]
                cursor = end
        if not pieces:
            continue
        new_text = "".join([*pieces, text[cursor:]])
        if new_text not in seen:
            seen.add(new_text)
            texts.append(new_text)
    return texts


def augment_texts(
    texts: Sequence[str],
    candidates,
    config: AugmentationConfig | None = None,
    *,
    tokenizer=None,
    indices: Sequence[int] | None = None,
    column: int = 0,
) -> list[list[str]]:
    """Augment a list of texts: for each, the original first and then its distinct new texts.

    Args:
        texts: the texts.
        candidates: a `CandidateSource` or a sequence of them.
        config: augmentation settings.
        tokenizer: the tokenizer to split texts with (default: the first source's).
        indices: example index of each text for the random generators (default: 0, 1, 2, ...).
        column: text-column position for the random generators.
    """
    config = config or AugmentationConfig()
    indices = list(range(len(texts))) if indices is None else list(indices)
    if len(indices) != len(texts):
        raise ValueError(f"got {len(indices)} indices for {len(texts)} texts")
    found = find_word_candidates(texts, candidates, config, tokenizer=tokenizer)
    return [
        sample_augmentations(text, words, config, example_rng(config.seed, index, column))
        for text, words, index in zip(texts, found, indices)
    ]


def _augment_batch(batch, indices, *, sources, tokenizer, config, text_columns, threads):
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    columns = list(batch)
    count = len(indices)
    variants: dict[str, list[list[str]]] = {}
    for column_number, column in enumerate(text_columns):
        texts = batch[column]
        valid = [i for i in range(count) if isinstance(texts[i], str)]
        found = _find_candidates([texts[i] for i in valid], sources, tokenizer, config)
        per_example: list[list[str]] = [[] for _ in range(count)]
        for i, words in zip(valid, found):
            rng = example_rng(config.seed, indices[i], column_number)
            per_example[i] = sample_augmentations(texts[i], words, config, rng)[1:]
        variants[column] = per_example
    out: dict[str, list] = {column: [] for column in columns}
    for i in range(count):
        row = {column: batch[column][i] for column in columns}
        rows = [row] + [{**row, column: text} for column in text_columns for text in variants[column][i]]
        for new_row in rows:
            for column in columns:
                out[column].append(new_row[column])
    return out


def augment_dataset(
    dataset,
    text_columns: str | Sequence[str],
    candidates=None,
    config: AugmentationConfig | None = None,
    *,
    tokenizer=None,
    teacher=None,
    batch_size: int = 256,
    num_proc: int | None = None,
):
    """Augment a `datasets.Dataset` with TinyBERT's Algorithm 1.

    Each example becomes its original row followed, for each text column in turn, by the distinct new texts of
    that column (other columns, labels included, copied). The result has the input's columns and features.

    Args:
        dataset: a `datasets.Dataset`.
        text_columns: the text column(s) to augment (one for single sentences, two for pairs).
        candidates: a `CandidateSource` or a sequence of them, asked in order (e.g.
            `[MaskedLMCandidates("bert-base-uncased"), WordVectorCandidates("glove.42B.300d.txt")]`).
        config: augmentation settings (default: the paper's).
        tokenizer: the student's tokenizer (path or object) texts are split with; every source must share its
            vocabulary. Default: the first source's tokenizer.
        teacher: used when `candidates` is `None`: its input-embedding table gives all candidates (offline).
        batch_size: examples per `datasets.map` batch (does not change the result).
        num_proc: processes for `datasets.map` (does not change the result).

    Returns:
        The augmented `datasets.Dataset`.

    Raises:
        ValueError: on a bad dataset, column, config, candidate source or tokenizer (before any model runs).
    """
    import datasets
    from datasets.fingerprint import Hasher

    if not isinstance(dataset, datasets.Dataset):
        hint = f" (pick a split: {', '.join(dataset)})" if isinstance(dataset, datasets.DatasetDict) else ""
        raise ValueError(f"augment_dataset needs a datasets.Dataset, got {type(dataset).__name__}{hint}")
    config = config or AugmentationConfig()
    text_columns = [text_columns] if isinstance(text_columns, str) else list(text_columns)
    if not text_columns:
        raise ValueError(f"give at least one text column; the dataset has: {', '.join(dataset.column_names)}")
    for column in text_columns:
        if column not in dataset.column_names:
            raise ValueError(
                f"text column {column!r} is not in the dataset; its columns are: {', '.join(dataset.column_names)}"
            )
        feature = dataset.features[column]
        if getattr(feature, "dtype", None) not in ("string", "large_string"):
            raise ValueError(f"text column {column!r} holds {feature}, not strings")
    if len(set(text_columns)) != len(text_columns):
        raise ValueError(f"text columns repeat: {text_columns}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if num_proc is not None and num_proc < 1:
        raise ValueError(f"num_proc must be >= 1 or None, got {num_proc!r}")
    sources = resolve_candidate_sources(candidates, teacher=teacher, tokenizer=tokenizer)
    tokenizer = resolve_tokenizer(sources, tokenizer)
    logger.info("augmenting %s with %s", text_columns, ", ".join(source.describe() for source in sources))

    threads = max(1, torch.get_num_threads() // num_proc) if num_proc and num_proc > 1 else None
    function: Callable = functools.partial(
        _augment_batch,
        sources=sources,
        tokenizer=tokenizer,
        config=config,
        text_columns=text_columns,
        threads=threads,
    )
    fingerprint = Hasher.hash(
        [
            dataset._fingerprint,
            asdict(config),
            text_columns,
            [source.describe() for source in sources],
            getattr(tokenizer, "name_or_path", ""),
            "hf_tinybert.augment/1",
        ]
    )
    return dataset.map(
        function,
        batched=True,
        batch_size=batch_size,
        with_indices=True,
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        features=dataset.features,
        new_fingerprint=fingerprint,
        load_from_cache_file=False,
        desc="Augmenting",
    )


__all__ = [
    "MLM_CANDIDATE_RULES",
    "MLM_INPUTS",
    "AugmentationConfig",
    "CandidateSource",
    "EmbeddingTableCandidates",
    "MaskedLMCandidates",
    "WordCandidates",
    "WordInContext",
    "WordVectorCandidates",
    "augment_dataset",
    "augment_texts",
    "build_candidate_sources",
    "example_rng",
    "find_word_candidates",
    "is_replaceable",
    "match_case",
    "resolve_candidate_sources",
    "resolve_tokenizer",
    "sample_augmentations",
]
