"""Shared fixtures: tiny tokenizers and models built from configs (no network, seconds per test)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# benchmarks/ holds the shared-data lookup and the augmentation oracle that tests import (`shared_data`,
# `augment_reference`); they are not part of the shipped package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from transformers import BertConfig, BertTokenizerFast  # noqa: E402

import hf_tinybert  # noqa: E402,F401  (registers the Auto classes)
from hf_tinybert import TinyBertConfig  # noqa: E402

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "an", "is", "was", "are", "it", "this", "that", "movie", "film", "story", "actor", "actors", "good", "great", "bad", "awful", "terrible", "fun", "boring", "and", "or", "but", "not", "very", "really", "quite", "of", "to", "in", "on", "with", "for", "by", "at", "from", "as", "one", "two", "three", "love", "hate", "like", "best", "worst", "funny", "sad", "long", "short", "plot", "music", "scene", "scenes", "cast", "director", "time", "people", "make", "made", "makes", "seen", "see", "watch", "charming", "affecting", "journey", "dull", "smart", "clever", "stupid", "beautiful", "ugly", "news", "sport", "business", "politics", "tech", "question", "answer", "what", "who", "where", "when", "why", "how", "city", "river", "year", "world", "team", "game", "play", "player", "won", "lost"]
PIECES = ["##s", "##ing", "##ed", "##ly", "##er", "##est", "##ness", "un", "re", "##able"]
TINY_VOCAB = (
    SPECIAL_TOKENS
    + WORDS
    + PIECES
    + list("abcdefghijklmnopqrstuvwxyz.,!?'")
    + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
)


def write_vocab(path) -> str:
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(TINY_VOCAB) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    """A folder with a BERT word-piece tokenizer over a ~200-token vocabulary (saved with save_pretrained)."""
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    vocab = write_vocab(folder / "vocab.txt")
    # transformers 5 ignores `vocab_file=` here (the tokenizer would only know the 5 special tokens): pass `vocab=`
    tok = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=128)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    return BertTokenizerFast.from_pretrained(tiny_tokenizer_dir)


def tiny_teacher_config(**overrides) -> BertConfig:
    """A 4-layer, hidden-32, 4-head BERT: the 'teacher' of the tests."""
    values = dict(
        vocab_size=len(TINY_VOCAB),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return BertConfig(**values)


def tiny_student_config(**overrides) -> TinyBertConfig:
    """A 2-layer, hidden-24, 4-head TinyBERT student of the tiny teacher (fit_size 32)."""
    values = dict(
        vocab_size=len(TINY_VOCAB),
        hidden_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=128,
        fit_size=32,
    )
    values.update(overrides)
    return TinyBertConfig(**values)


@pytest.fixture
def seeded():
    torch.manual_seed(0)
    return 0


def load_benchmark(name: str):
    """Import benchmarks/<name>.py as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def assert_user_error(pattern: str, argv: list[str]) -> str:
    """The command ends with exit status 2 and one line `hf-tinybert <command>: error: ...` matching `pattern`, on
    stderr, without a traceback."""
    import contextlib
    import io
    import re

    from hf_tinybert.cli import main as cli_main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli_main(argv)
    text = stderr.getvalue()
    assert code == 2, text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith(f"hf-tinybert {argv[0]}: error: ") and re.search(pattern, last), last
    return last
