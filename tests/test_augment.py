"""TinyBERT data augmentation: candidate sources, sampling, batching, files and the `augment` command."""

from __future__ import annotations

import csv
import random

import datasets
import numpy as np
import pytest
import torch
from augment_reference import one_forward_per_word_candidates, reference_augment
from conftest import TINY_VOCAB, WORDS, tiny_teacher_config
from transformers import BertForMaskedLM, BertModel, BertTokenizerFast

from hf_tinybert.cli import augment as augment_cli
from hf_tinybert.data.augment import (
    AugmentationConfig,
    EmbeddingTableCandidates,
    MaskedLMCandidates,
    WordCandidates,
    WordVectorCandidates,
    augment_dataset,
    augment_texts,
    build_candidate_sources,
    find_word_candidates,
    is_replaceable,
    match_case,
    sample_augmentations,
)
from hf_tinybert.data.stop_words import ENGLISH_STOP_WORDS
from hf_tinybert.data.table_files import load_table, save_table

LONG_WORDS = ["charmingly", "played", "boringly", "!", "42", "it's"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and OpenMP threads crawl when the CPUs are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mlm():
    torch.manual_seed(0)
    return BertForMaskedLM(tiny_teacher_config()).eval()


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(0)
    pool = WORDS + LONG_WORDS
    texts = [" ".join(rng.choice(pool) for _ in range(rng.randint(3, 25))) for _ in range(30)]
    texts.append(" ".join(rng.choice(pool) for _ in range(600)))  # far longer than the 128 positions
    return texts


def _as_dict(words: list[WordCandidates]) -> dict[int, list[str]]:
    return {word.index: list(word.candidates) for word in words if word.source}


# ---- candidate sets ----


def test_only_alphabetic_non_stop_words_get_candidates(mlm, tiny_tokenizer):
    text = "The movie , it's 42 charmingly BAD and not funny!"
    sources = [MaskedLMCandidates(mlm, tiny_tokenizer), EmbeddingTableCandidates(mlm, tiny_tokenizer)]
    (words,) = find_word_candidates([text], sources)
    assert [word.word for word in words] == ["movie", "charmingly", "bad", "funny"]
    assert [text[word.start : word.end] for word in words] == ["movie", "charmingly", "BAD", "funny"]
    assert [word.source for word in words] == ["masked_lm", "embedding_table", "masked_lm", "masked_lm"]
    assert {"the", "it", "and", "not", "'s", "very"} <= ENGLISH_STOP_WORDS and len(ENGLISH_STOP_WORDS) == 173
    assert not is_replaceable("what's") and not is_replaceable("42") and is_replaceable("Movie")


def test_paper_rule_gives_k_whole_words_other_than_the_word(mlm, tiny_tokenizer, texts):
    config = AugmentationConfig(top_k=7)
    found = find_word_candidates(texts[:10], MaskedLMCandidates(mlm, tiny_tokenizer), config)
    special = set(tiny_tokenizer.all_special_tokens)
    mlm_words = [word for words in found for word in words if word.source == "masked_lm"]
    assert len(mlm_words) > 20
    for word in mlm_words:
        assert len(word.candidates) == 7 and len(set(word.candidates)) == 7
        assert word.word not in word.candidates
        assert not any(c.startswith("##") or c in special for c in word.candidates)


def test_candidates_are_the_top_k_of_the_mlm_logits(mlm, tiny_tokenizer):
    text = "a boring movie with great actors"
    source = MaskedLMCandidates(mlm, tiny_tokenizer)
    (words,) = find_word_candidates([text], source, AugmentationConfig(top_k=5, mlm_candidate_rule="code"))
    movie = next(word for word in words if word.word == "movie")
    ids = tiny_tokenizer(text)["input_ids"]
    position = ids.index(tiny_tokenizer.convert_tokens_to_ids("movie"))
    ids[position] = tiny_tokenizer.mask_token_id
    with torch.no_grad():
        logits = mlm(input_ids=torch.tensor([ids])).logits[0, position]
    top = tiny_tokenizer.convert_ids_to_tokens(torch.topk(logits, 5).indices.tolist())
    assert list(movie.candidates) == [token for token in top if not token.startswith("##")]


@pytest.mark.parametrize("mlm_input", ["masked", "masked_and_original"])
@pytest.mark.parametrize("rule", ["paper", "code"])
@pytest.mark.slow
def test_batched_candidates_equal_one_forward_per_word(mlm, tiny_tokenizer, texts, mlm_input, rule):
    config = AugmentationConfig(top_k=6, mlm_input=mlm_input, mlm_candidate_rule=rule)
    expected = [one_forward_per_word_candidates(text, mlm, tiny_tokenizer, config) for text in texts]
    assert sum(len(e) for e in expected) > 200
    for budget in (1, 300, 100_000):  # one row per forward ... everything of one length in one forward
        found = find_word_candidates(
            texts, MaskedLMCandidates(mlm, tiny_tokenizer, max_tokens_per_forward=budget), config
        )
        assert [_as_dict(words) for words in found] == expected


def test_long_text_is_windowed_around_the_masked_word(mlm, tiny_tokenizer, texts):
    long_text = texts[-1]
    assert len(tiny_tokenizer(long_text)["input_ids"]) > 600
    seen_lengths = []
    hook = mlm.bert.embeddings.register_forward_hook(lambda module, args, output: seen_lengths.append(output.shape[1]))
    try:
        for mlm_input in ("masked", "masked_and_original"):
            config = AugmentationConfig(mlm_input=mlm_input)
            (words,) = find_word_candidates([long_text], MaskedLMCandidates(mlm, tiny_tokenizer), config)
            single = [word for word in words if word.source == "masked_lm"]
            assert single[-1].start > len(long_text) * 0.9  # words near the end get candidates too
            assert all(len(word.candidates) == config.top_k for word in single)
    finally:
        hook.remove()
    assert max(seen_lengths) <= mlm.config.max_position_embeddings
    assert {128, 127} & set(seen_lengths)  # the window fills the model: 1 + 126 + 1 and 1 + 62 + 1 + 62 + 1


# ---- candidate sources ----


def _glove_file(path, header=False):
    vectors = {
        "movie": [1.0, 0.0, 0.0],
        "film": [0.9, 0.1, 0.0],
        "picture": [0.8, 0.3, 0.0],
        "charmingly": [0.0, 1.0, 0.0],
        "delightfully": [0.1, 0.95, 0.0],
        "river": [0.0, 0.0, 1.0],
        "stream": [0.0, 0.2, 0.9],
    }
    lines = [f"{word} {' '.join(str(v) for v in vector)}" for word, vector in vectors.items()]
    if header:
        lines.insert(0, f"{len(lines)} 3")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", [False, True])
def test_word_vector_candidates_are_cosine_neighbours(tmp_path, tiny_tokenizer, header):
    source = WordVectorCandidates(_glove_file(tmp_path / "vectors.txt", header))
    config = AugmentationConfig(top_k=2)
    (words,) = find_word_candidates(["the charmingly long movie"], source, config, tokenizer=tiny_tokenizer)
    assert {word.word: word.candidates for word in words} == {
        "charmingly": ("delightfully", "picture"),
        "long": (),  # not in the file: unchanged
        "movie": ("film", "picture"),
    }
    assert [word.source for word in words] == ["word_vectors", "", "word_vectors"]
    first_three = WordVectorCandidates(tmp_path / "vectors.txt", max_words=3)
    assert find_word_candidates(["movie"], first_three, config, tokenizer=tiny_tokenizer)[0][0].candidates == (
        "film",
        "picture",
    )


def test_sources_are_asked_in_order(mlm, tiny_tokenizer, tmp_path):
    sources = [
        MaskedLMCandidates(mlm, tiny_tokenizer),
        WordVectorCandidates(_glove_file(tmp_path / "vectors.txt")),
        EmbeddingTableCandidates(mlm, tiny_tokenizer),
    ]
    (words,) = find_word_candidates(["movie charmingly boringly"], sources)
    assert [word.source for word in words] == ["masked_lm", "word_vectors", "embedding_table"]


def test_embedding_table_averages_the_pieces_of_a_word(tiny_tokenizer):
    model = BertModel(tiny_teacher_config())
    table = model.get_input_embeddings().weight
    ids = tiny_tokenizer.convert_tokens_to_ids(["charming", "##ly", "smart", "movie", "##s", "."])
    with torch.no_grad():
        table.normal_()
        table[ids[2]] = (table[ids[0]] + table[ids[1]]) / 2  # "smart" = the mean of charming + ##ly
        table[ids[4]] = table[ids[3]] * 3  # "##s" points exactly like "movie" but is a piece
        table[ids[5]] = table[ids[3]] * 2  # "." too, but is not alphabetic
    source = EmbeddingTableCandidates(model, tiny_tokenizer)
    (words,) = find_word_candidates(["charmingly movie"], source, AugmentationConfig(top_k=40))
    charmingly, movie = words
    assert charmingly.candidates[0] == "smart" and charmingly.source == "embedding_table"
    assert "movie" not in movie.candidates and "##s" not in movie.candidates and "." not in movie.candidates
    assert all(candidate.isalpha() for word in words for candidate in word.candidates)


def test_masked_lm_and_teacher_load_from_folders(mlm, tiny_tokenizer, tmp_path, texts):
    mlm.save_pretrained(tmp_path / "mlm")
    tiny_tokenizer.save_pretrained(tmp_path / "mlm")
    sources = build_candidate_sources(masked_lm=str(tmp_path / "mlm"))
    assert [type(source) for source in sources] == [MaskedLMCandidates, EmbeddingTableCandidates]
    found = find_word_candidates(texts[:5], sources)
    assert [
        _as_dict(w) for w in find_word_candidates(texts[:5], [MaskedLMCandidates(mlm, tiny_tokenizer), sources[1]])
    ] == [_as_dict(w) for w in found]
    teacher_only = build_candidate_sources(teacher=str(tmp_path / "mlm"))
    assert [type(source) for source in teacher_only] == [EmbeddingTableCandidates]


# ---- sampling ----


def _words(text: str, candidates: dict[str, tuple[str, ...]]) -> list[WordCandidates]:
    words, cursor = [], 0
    for index, word in enumerate(text.split()):
        start = text.index(word, cursor)
        cursor = start + len(word)
        if word.lower() in candidates:
            words.append(WordCandidates(index, word.lower(), start, cursor, "test", candidates[word.lower()]))
    return words


def test_replacement_rate_is_p_t_and_candidates_are_uniform():
    text = " ".join(f"w{i}" for i in range(10))
    words = _words(text, {f"w{i}": ("a", "b", "c") for i in range(10)})
    config = AugmentationConfig(replace_prob=0.4, num_augmented=1)
    replaced, picks = 0, {"a": 0, "b": 0, "c": 0}
    for index in range(2000):
        out = sample_augmentations(text, words, config, np.random.default_rng([7, index]))
        if len(out) == 2:
            new = out[1].split()
            replaced += sum(token != f"w{i}" for i, token in enumerate(new))
            for token in new:
                if token in picks:
                    picks[token] += 1
    assert abs(replaced / 20_000 - 0.4) < 0.02
    assert all(abs(count / replaced - 1 / 3) < 0.03 for count in picks.values())


def test_extreme_probabilities_and_duplicates():
    text = "good movie"
    words = _words(text, {"good": ("great",), "movie": ("film",)})
    never = sample_augmentations(text, words, AugmentationConfig(replace_prob=0.0), np.random.default_rng(0))
    assert never == [text]
    always = sample_augmentations(text, words, AugmentationConfig(replace_prob=1.0), np.random.default_rng(0))
    assert always == [text, "great film"]  # 20 identical tries, duplicates dropped
    some = sample_augmentations(text, words, AugmentationConfig(replace_prob=0.5), np.random.default_rng(0))
    assert (
        some[0] == text
        and len(some) == len(set(some))
        and set(some) <= {text, "great movie", "good film", "great film"}
    )


def test_replacements_keep_the_rest_of_the_text_and_copy_case():
    text = "  The MOVIE was Good ,\tfun "
    words = _words(text, {"movie": ("film",), "good": ("great",)})
    out = sample_augmentations(text, words, AugmentationConfig(replace_prob=1.0), np.random.default_rng(0))
    assert out == [text, "  The FILM was Great ,\tfun "]
    assert match_case("film", "movie") == "film" and match_case("film", "Movie") == "Film"


# ---- datasets: determinism, pairs, teacher fallback ----


@pytest.fixture(scope="module")
def sst2_like():
    rng = random.Random(1)
    sentences = [" ".join(rng.choice(WORDS + LONG_WORDS) for _ in range(rng.randint(2, 12))) + " " for _ in range(12)]
    return datasets.Dataset.from_dict({"sentence": sentences, "label": [i % 2 for i in range(12)]})


def test_augment_dataset_is_deterministic_and_independent_of_batching(mlm, tiny_tokenizer, sst2_like):
    sources = [MaskedLMCandidates(mlm, tiny_tokenizer), EmbeddingTableCandidates(mlm, tiny_tokenizer)]
    config = AugmentationConfig(num_augmented=5)
    first = augment_dataset(sst2_like, "sentence", sources, config, batch_size=5).to_list()
    assert first == augment_dataset(sst2_like, "sentence", sources, config, batch_size=1).to_list()
    assert first == augment_dataset(sst2_like, ["sentence"], sources, config, batch_size=100).to_list()
    other_seed = AugmentationConfig(num_augmented=5, seed=1)
    assert first != augment_dataset(sst2_like, "sentence", sources, other_seed).to_list()
    # the rows of each example: original first, then distinct texts, label carried over
    expected = augment_texts(sst2_like["sentence"], sources, config)
    assert [row["sentence"] for row in first] == [text for group in expected for text in group]
    assert [row["label"] for row in first] == [i % 2 for i, group in enumerate(expected) for _ in group]
    assert all(len(group) == len(set(group)) and 1 <= len(group) <= 6 for group in expected)
    assert len(first) > 3 * len(sst2_like)


def test_augment_dataset_with_two_processes_matches_one(mlm, tiny_tokenizer, sst2_like):
    sources = [MaskedLMCandidates(mlm, tiny_tokenizer), EmbeddingTableCandidates(mlm, tiny_tokenizer)]
    config = AugmentationConfig(num_augmented=4)
    one = augment_dataset(sst2_like, "sentence", sources, config, batch_size=4)
    two = augment_dataset(sst2_like, "sentence", sources, config, batch_size=3, num_proc=2)
    assert one.to_list() == two.to_list()


def test_sentence_pairs_augment_each_column_and_carry_the_label(mlm, tiny_tokenizer):
    pairs = datasets.Dataset.from_dict(
        {
            "idx": [0, 1],
            "sentence1": ["the movie was great fun", "a boring story"],
            "sentence2": ["the actors played well", "the plot was dull"],
            "label": ["entailment", "not_entailment"],
        }
    )
    sources = [MaskedLMCandidates(mlm, tiny_tokenizer), EmbeddingTableCandidates(mlm, tiny_tokenizer)]
    config = AugmentationConfig(num_augmented=6)
    rows = augment_dataset(pairs, ["sentence1", "sentence2"], sources, config).to_list()
    assert rows[0] == pairs[0]
    for column_number, column in enumerate(["sentence1", "sentence2"]):
        other = "sentence2" if column == "sentence1" else "sentence1"
        variants = augment_texts(pairs[column], sources, config, column=column_number)
        for example, group in enumerate(variants):
            got = [
                row[column]
                for row in rows
                if row["idx"] == example
                and row[other] == pairs[example][other]
                and row[column] != pairs[example][column]
            ]
            assert got == group[1:] and len(got) > 0
    for row in rows:
        original = pairs[row["idx"]]
        assert row["label"] == original["label"]
        assert (row["sentence1"] == original["sentence1"]) or (row["sentence2"] == original["sentence2"])
    assert len(rows) == 2 + sum(
        len(group) - 1
        for number, column in enumerate(["sentence1", "sentence2"])
        for group in augment_texts(pairs[column], sources, config, column=number)
    )


def test_teacher_embedding_fallback(mlm, tiny_tokenizer, sst2_like):
    config = AugmentationConfig(num_augmented=3)
    out = augment_dataset(sst2_like, "sentence", teacher=mlm, tokenizer=tiny_tokenizer, config=config)
    assert (
        out.to_list()
        == augment_dataset(sst2_like, "sentence", EmbeddingTableCandidates(mlm, tiny_tokenizer), config).to_list()
    )
    assert len(out) > len(sst2_like) and out.features == sst2_like.features


def test_batched_augmentation_reproduces_the_word_by_word_reference(mlm, tiny_tokenizer, texts):
    sources = [MaskedLMCandidates(mlm, tiny_tokenizer), EmbeddingTableCandidates(mlm, tiny_tokenizer)]
    config = AugmentationConfig(num_augmented=8)
    batched = augment_texts(texts, sources, config)
    backend = tiny_tokenizer.backend_tokenizer

    def words(text):  # the reference joins basic tokens with spaces, as the official code does
        return [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]

    for index, text in enumerate(texts[:12]):
        reference_texts, reference_candidates = reference_augment(
            text, index, mlm, tiny_tokenizer, config, word_source=sources[1]
        )
        assert _as_dict(find_word_candidates([text], sources, config)[0]) == reference_candidates
        assert [words(t) for t in batched[index]] == [words(t) for t in reference_texts]
        assert len(batched[index]) > 1


# ---- bad input ----


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match=r"replace_prob \(p_t\) must be in \[0, 1\], got 1.5"):
        AugmentationConfig(replace_prob=1.5)
    with pytest.raises(ValueError, match=r"replace_prob"):
        AugmentationConfig(replace_prob=-0.1)
    with pytest.raises(ValueError, match=r"num_augmented \(N_a\) must be an integer >= 1, got 0"):
        AugmentationConfig(num_augmented=0)
    with pytest.raises(ValueError, match=r"top_k"):
        AugmentationConfig(top_k=0)
    with pytest.raises(ValueError, match="mlm_input must be one of masked, masked_and_original"):
        AugmentationConfig(mlm_input="both")


def test_no_source_and_no_teacher(sst2_like, tiny_tokenizer):
    with pytest.raises(ValueError, match="no candidate source.*teacher"):
        augment_dataset(sst2_like, "sentence", tokenizer=tiny_tokenizer)
    with pytest.raises(ValueError, match="no candidate source"):
        build_candidate_sources()


def test_masked_lm_with_another_vocabulary(mlm, tiny_tokenizer, tmp_path, sst2_like):
    other_vocab = tmp_path / "vocab.txt"
    other_vocab.write_text("\n".join(TINY_VOCAB[:-1] + ["zzz"]) + "\n")
    other = BertTokenizerFast(vocab=str(other_vocab))
    source = MaskedLMCandidates(mlm, other)
    with pytest.raises(ValueError, match="different vocabulary"):
        augment_dataset(sst2_like, "sentence", source, tokenizer=tiny_tokenizer)
    small = BertForMaskedLM(tiny_teacher_config(vocab_size=50))
    with pytest.raises(ValueError, match="50 input embeddings but its tokenizer has"):
        MaskedLMCandidates(small, tiny_tokenizer)


def test_bad_columns_and_missing_tokenizer(mlm, tiny_tokenizer, tmp_path, sst2_like):
    source = MaskedLMCandidates(mlm, tiny_tokenizer)
    with pytest.raises(ValueError, match="text column 'text' is not in the dataset; its columns are: sentence, label"):
        augment_dataset(sst2_like, "text", source)
    with pytest.raises(ValueError, match="text column 'label' holds"):
        augment_dataset(sst2_like, "label", source)
    with pytest.raises(ValueError, match="give the student's tokenizer"):
        augment_dataset(sst2_like, "sentence", WordVectorCandidates(_glove_file(tmp_path / "v.txt")))
    with pytest.raises(FileNotFoundError, match="word-vector file"):
        WordVectorCandidates(tmp_path / "missing.txt")


# ---- files and the command ----


@pytest.mark.parametrize("name", ["aug.tsv", "aug.jsonl", "aug.csv", "aug_dataset"])
def test_outputs_read_back(tmp_path, name):
    dataset = datasets.Dataset.from_dict(
        {"sentence": ['he said "wow" , it \'s great ', "null", "NA ,  ok"], "label": [1, 0, 1]}
    )
    save_table(dataset, tmp_path / name)
    back = load_table(tmp_path / name, string_columns=["sentence"])
    assert back.to_list() == dataset.to_list()
    with pytest.raises(ValueError, match="Output (file|folder) exists"):
        save_table(dataset, tmp_path / name)
    save_table(dataset.select([0]), tmp_path / name, overwrite=True)
    assert len(load_table(tmp_path / name, string_columns=["sentence"])) == 1


def test_tsv_output_is_glue_format(tmp_path):
    dataset = datasets.Dataset.from_dict({"sentence": ['a "quoted" word '], "label": [1]})
    save_table(dataset, tmp_path / "train.tsv")
    assert (tmp_path / "train.tsv").read_bytes() == b'sentence\tlabel\na "quoted" word \t1\n'
    with open(tmp_path / "train.tsv", encoding="utf-8") as f:
        assert list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)) == [
            ["sentence", "label"],
            ['a "quoted" word ', "1"],
        ]


@pytest.fixture
def teacher_dir(tmp_path, tiny_tokenizer):
    torch.manual_seed(0)
    BertModel(tiny_teacher_config()).save_pretrained(tmp_path / "teacher")
    tiny_tokenizer.save_pretrained(tmp_path / "teacher")
    return tmp_path / "teacher"


def test_cli_augments_a_glue_tsv_offline_with_the_teacher(tmp_path, teacher_dir, capsys):
    source = tmp_path / "train.tsv"
    source.write_text(
        "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nthe plot is boring \t0\n"
        'a "great" movie with funny actors \t1\n',
        encoding="utf-8",
    )
    out = tmp_path / "aug.tsv"
    argv = ["--input", str(source), "--text_columns", "sentence", "--teacher", str(teacher_dir)]
    argv += ["--output_file", str(out), "--max_examples", "2", "--num_augmented", "5", "--seed", "3"]
    assert augment_cli.main(argv) == 0
    assert "Augmented 2 examples into" in capsys.readouterr().out
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "sentence\tlabel" and rows[1] == "it 's a charming and often affecting journey . \t1"
    assert len(rows) > 4 and all(row.count("\t") == 1 for row in rows)
    expected = augment_dataset(
        load_table(source, string_columns=["sentence"]).select(range(2)),
        "sentence",
        teacher=str(teacher_dir),
        config=AugmentationConfig(num_augmented=5, seed=3),
    )
    assert load_table(out, string_columns=["sentence"]).to_list() == expected.to_list()
    assert augment_cli.main(argv) == 2  # refuses to overwrite
    assert "Output file exists" in capsys.readouterr().err
    assert augment_cli.main([*argv, "--overwrite_output_dir"]) == 0


def test_cli_help_and_errors(tmp_path, teacher_dir, capsys):
    assert augment_cli.main(["--help"]) == 0
    assert "--text_columns" in capsys.readouterr().out
    source = tmp_path / "train.tsv"
    source.write_text("sentence\tlabel\ngood movie \t1\n", encoding="utf-8")
    base = ["--input", str(source), "--text_columns", "sentence", "--output_file", str(tmp_path / "o.tsv")]
    assert augment_cli.main(base) == 2
    assert "no candidate source" in capsys.readouterr().err
    assert augment_cli.main([*base, "--teacher", str(teacher_dir), "--replace_prob", "1.5"]) == 2
    assert "replace_prob (p_t) must be in [0, 1]" in capsys.readouterr().err
    assert augment_cli.main([*base, "--teacher", str(teacher_dir), "--num_augmented", "0"]) == 2
    assert "num_augmented (N_a)" in capsys.readouterr().err
    bad_column = ["--input", str(source), "--text_columns", "text", "--output_dir", str(tmp_path / "o")]
    assert augment_cli.main([*bad_column, "--teacher", str(teacher_dir)]) == 2
    assert "text column 'text' is not in" in capsys.readouterr().err
