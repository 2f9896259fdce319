"""Raw text corpora: the readers (.txt, WikiText .tokens, .jsonl), packing into blocks, streaming, sharding."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset, IterableDataset
from shared_data import shared_data_dir

from hf_tinybert.data import corpus as corpus_module
from hf_tinybert.data import load_corpus, pack_corpus, shard_for_rank

WIKITEXT_VALID = shared_data_dir() / "wikitext-2" / "wiki.valid.tokens"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("datasets_cache"))


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------------------


def test_text_file_blank_lines_separate_documents(tmp_path, cache_dir):
    path = write(tmp_path / "a.txt", "first paragraph .\nsecond paragraph .\n\n\n  third , alone .  \n\nlast\n")
    docs = load_corpus(path, cache_dir=cache_dir)
    assert isinstance(docs, Dataset) and docs.column_names == ["text"]
    assert list(docs["text"]) == ["first paragraph .\nsecond paragraph .", "third , alone .", "last"]


def test_wikitext_headings_and_markers(tmp_path, cache_dir):
    path = write(
        tmp_path / "wiki.tokens",
        " \n = Alpha = \n \n Alpha is a state @-@ of @-@ the @-@ art film of 1 @,@ 000 frames at 2 @.@ 5 fps . \n"
        " \n = = Plot = = \n \n The plot is = not = a heading . \n \n = = = Cast = = = \n A cast . \n"
        " = Beta = \n \n Beta is <unk> . \n",
    )
    docs = load_corpus(path, cache_dir=cache_dir)
    assert list(docs["text"]) == [
        "Alpha is a state-of-the-art film of 1,000 frames at 2.5 fps .\nThe plot is = not = a heading .\nA cast .",
        "Beta is <unk> .",
    ]


def test_real_wikitext_valid_has_its_60_articles(cache_dir):
    docs = load_corpus(WIKITEXT_VALID, cache_dir=cache_dir)
    assert len(docs) == 60  # WikiText-2's validation split holds 60 Wikipedia articles
    assert docs[0]["text"].startswith("Homarus gammarus , known as the European lobster or common lobster")
    assert not any(line.lstrip().startswith("= ") for doc in docs["text"] for line in doc.split("\n"))
    assert not any("@-@" in doc for doc in docs["text"])


def test_jsonl_with_a_configurable_field(tmp_path, cache_dir):
    path = write(
        tmp_path / "a.jsonl", "\n".join(json.dumps({"body": t, "id": i}) for i, t in enumerate(["one", " ", "two"]))
    )
    assert list(load_corpus(path, text_column="body", cache_dir=cache_dir)["text"]) == ["one", "two"]
    with pytest.raises(ValueError, match=r"a\.jsonl: line 1 has no field 'text'; it has: \['body', 'id'\]"):
        load_corpus(path, cache_dir=cache_dir)


def test_folder_of_files_and_file_format_override(tmp_path, cache_dir):
    write(tmp_path / "b.txt", "bee\n")
    write(tmp_path / "a.txt", "ay\n")
    write(tmp_path / "notes.md", "ignored\n")
    assert list(load_corpus(tmp_path, cache_dir=cache_dir)["text"]) == ["ay", "bee"]
    data = write(tmp_path / "wiki.data", " = T = \n body . \n")
    assert list(load_corpus(data, file_format="wikitext", cache_dir=cache_dir)["text"]) == ["body ."]


def test_corpus_errors(tmp_path, cache_dir):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_corpus(tmp_path / "missing.txt")
    write(tmp_path / "readme.md", "x")
    with pytest.raises(FileNotFoundError, match=r"holds no \.txt/\.tokens/\.jsonl/\.json file; it holds: readme\.md"):
        load_corpus(tmp_path)
    with pytest.raises(ValueError, match=r"unknown corpus file type '\.md'"):
        load_corpus(tmp_path / "readme.md")
    with pytest.raises(ValueError, match="unknown file_format 'csv'; valid: jsonl, text, wikitext"):
        load_corpus(tmp_path / "readme.md", file_format="csv")
    blank = write(tmp_path / "blank.txt", "\n \n\n")
    with pytest.raises(ValueError, match="holds no non-blank document"):
        load_corpus(blank, cache_dir=cache_dir)
    late_error = write(tmp_path / "late.jsonl", '{"text": "fine"}\n{"text": "also fine"}\nnot json\n')
    with pytest.raises(ValueError, match=r"late\.jsonl: line 3 is not valid JSON"):
        load_corpus(late_error, cache_dir=cache_dir)


def test_edited_file_is_read_again(tmp_path, cache_dir):
    path = write(tmp_path / "a.txt", "old\n")
    assert list(load_corpus(path, cache_dir=cache_dir)["text"]) == ["old"]
    write(path, "new text\n")
    assert list(load_corpus(path, cache_dir=cache_dir)["text"]) == ["new text"]


# ----------------------------------------------------------------------------------------------------------
# Packing
# ----------------------------------------------------------------------------------------------------------


def expected_stream(tokenizer, documents):
    stream = []
    for document in documents:
        stream += tokenizer(document, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    return stream


def test_packing_is_group_texts_with_special_tokens(tmp_path, tiny_tokenizer, cache_dir):
    documents = ["the movie was good and the actors were great .", "a bad film", "love the music of the film !"]
    path = write(tmp_path / "a.txt", "\n\n".join(documents) + "\n")
    packed = pack_corpus(load_corpus(path, cache_dir=cache_dir), tiny_tokenizer, max_seq_length=8)
    assert packed.column_names == ["input_ids", "attention_mask", "token_type_ids"]
    cls, sep = tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id
    blocks = list(packed["input_ids"])
    assert all(len(b) == 8 and b[0] == cls and b[-1] == sep for b in blocks)
    stream = expected_stream(tiny_tokenizer, documents)
    assert len(blocks) == len(stream) // 6
    assert [t for b in blocks for t in b[1:-1]] == stream[: 6 * len(blocks)]  # the remainder is dropped
    assert all(set(m) == {1} for m in packed["attention_mask"]) and all(set(t) == {0} for t in packed["token_type_ids"])


def test_packing_real_wikitext_maps_unk_and_is_cached(tiny_tokenizer, cache_dir):
    docs = load_corpus(WIKITEXT_VALID, max_documents=5, cache_dir=cache_dir)
    assert len(docs) == 5
    packed = pack_corpus(docs, tiny_tokenizer, max_seq_length=64)
    assert len(packed) > 100 and {len(b) for b in packed["input_ids"]} == {64}
    # WikiText's "<unk>" becomes the tokenizer's [UNK], not "<", "unk", ">".
    stream = expected_stream(tiny_tokenizer, [d.replace("<unk>", "[UNK]") for d in docs["text"]])
    assert [t for b in packed["input_ids"] for t in b[1:-1]] == stream[: 62 * len(packed)]
    assert "<unk>" in docs[0]["text"] and tiny_tokenizer.unk_token_id in stream
    assert pack_corpus(docs, tiny_tokenizer, max_seq_length=64).cache_files == packed.cache_files


def test_packing_errors(tmp_path, tiny_tokenizer, cache_dir):
    docs = load_corpus(write(tmp_path / "short.txt", "a short one\n"), cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"\(1 documents\) yields no block of 128 tokens"):
        pack_corpus(docs, tiny_tokenizer, max_seq_length=128)
    with pytest.raises(ValueError, match="max_seq_length must be an int >= 3"):
        pack_corpus(docs, tiny_tokenizer, max_seq_length=2)
    with pytest.raises(ValueError, match=r"no 'text' column; it has columns \['body'\]"):
        pack_corpus(Dataset.from_dict({"body": ["x"]}), tiny_tokenizer)


# ----------------------------------------------------------------------------------------------------------
# Streaming and sharding
# ----------------------------------------------------------------------------------------------------------


def test_streaming_gives_the_same_documents_and_blocks(tmp_path, tiny_tokenizer, cache_dir):
    documents = [f"the story {' '.join(['of the city'] * (i + 1))} ." for i in range(12)]
    path = write(tmp_path / "a.txt", "\n\n".join(documents))
    eager = load_corpus(path, streaming=False, cache_dir=cache_dir)
    streamed = load_corpus(path, streaming=True)
    assert isinstance(streamed, IterableDataset)
    assert [row["text"] for row in streamed] == list(eager["text"]) == documents
    eager_blocks = list(pack_corpus(eager, tiny_tokenizer, 16, batch_size=5)["input_ids"])
    streamed_blocks = [row["input_ids"] for row in pack_corpus(streamed, tiny_tokenizer, 16, batch_size=5)]
    assert streamed_blocks == eager_blocks and len(eager_blocks) > 5
    assert [row["text"] for row in load_corpus(path, streaming=True, max_documents=3)] == documents[:3]


def test_streaming_is_chosen_when_the_corpus_exceeds_free_memory(tmp_path, monkeypatch):
    path = write(tmp_path / "a.txt", "some text\n")
    monkeypatch.setattr(corpus_module, "_available_memory_bytes", lambda: 4)
    assert isinstance(load_corpus(path), IterableDataset)
    monkeypatch.setattr(corpus_module, "_available_memory_bytes", lambda: 10**12)
    assert isinstance(load_corpus(path, cache_dir=str(tmp_path / "cache")), Dataset)


def test_shard_for_rank_map_style_and_streamed(tmp_path, monkeypatch, cache_dir):
    for name in ("a", "b", "c", "d"):
        write(tmp_path / f"{name}.txt", "\n\n".join(f"{name}{i}" for i in range(3)))
    every = list(load_corpus(tmp_path, cache_dir=cache_dir)["text"])
    assert len(every) == 12
    parts = [list(shard_for_rank(load_corpus(tmp_path, cache_dir=cache_dir), rank, 2)["text"]) for rank in (0, 1)]
    assert parts[0] + parts[1] == every and len(parts[0]) == 6
    streamed = [[r["text"] for r in shard_for_rank(load_corpus(tmp_path, streaming=True), r, 2)] for r in (0, 1)]
    assert sorted(streamed[0] + streamed[1]) == sorted(every) and not set(streamed[0]) & set(streamed[1])
    files_per_rank = [{text[0] for text in part} for part in streamed]
    assert [len(f) for f in files_per_rank] == [2, 2]  # 4 files over 2 ranks: whole files per rank
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert list(load_corpus(tmp_path, shard_by_rank=True, cache_dir=cache_dir)["text"]) == parts[1]
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size\): got rank=2, world_size=2"):
        shard_for_rank(load_corpus(tmp_path, cache_dir=cache_dir), 2, 2)
