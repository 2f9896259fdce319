"""The offline GLUE and SQuAD `evaluate` modules: keys, hand-computed values, scikit-learn / SciPy agreement."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from transformers import EvalPrediction

from hf_tinybert.metrics import GLUE_METRIC_PATH, glue_compute_metrics, load_metric

EXPECTED_KEYS = {
    "cola": {"matthews_correlation"},
    "sst2": {"accuracy"},
    "mnli": {"accuracy"},
    "mnli_matched": {"accuracy"},
    "mnli_mismatched": {"accuracy"},
    "qnli": {"accuracy"},
    "rte": {"accuracy"},
    "wnli": {"accuracy"},
    "mrpc": {"accuracy", "f1"},
    "qqp": {"accuracy", "f1"},
    "stsb": {"pearson", "spearmanr"},
}


@pytest.mark.slow
def test_metrics_load_by_path_with_no_network_and_an_empty_cache(tmp_path):
    # A fresh process, offline, with empty Hugging Face caches: nothing may come from the Hub.
    code = (
        "import json; from hf_tinybert.metrics import load_metric; "
        "g = load_metric('mrpc').compute(predictions=[1, 1, 0, 0], references=[1, 0, 0, 1]); "
        "s = load_metric('squad').compute(predictions=[{'id': 'q', 'prediction_text': 'the Tower'}], "
        "references=[{'id': 'q', 'answers': {'text': ['Tower'], 'answer_start': [0]}}]); "
        "print(json.dumps([g, s]))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    glue, squad = json.loads(result.stdout.strip().splitlines()[-1])
    assert glue == {"accuracy": 0.5, "f1": 0.5}
    assert squad == {"exact_match": 100.0, "f1": 100.0}


@pytest.mark.parametrize("task", sorted(EXPECTED_KEYS))
def test_glue_keys_match_the_hub_metric(task):
    metric = load_metric(task)
    if task == "stsb":
        result = metric.compute(predictions=[0.5, 2.0, 4.0], references=[1.0, 2.5, 3.0])
    else:
        result = metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    assert set(result) == EXPECTED_KEYS[task]
    assert all(isinstance(v, float) for v in result.values())


def test_glue_hand_computed_values():
    predictions, references = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    # tp=2, fp=1, fn=1, tn=1: accuracy 3/5, F1 = 2*2/(2*2+1+1) = 2/3, MCC = (2*1-1*1)/sqrt(3*3*2*2) = 1/6
    assert load_metric("mrpc").compute(predictions=predictions, references=references) == pytest.approx(
        {"accuracy": 0.6, "f1": 2 / 3}
    )
    assert load_metric("cola").compute(predictions=predictions, references=references) == pytest.approx(
        {"matthews_correlation": 1 / 6}
    )
    assert load_metric("rte").compute(predictions=[0, 1], references=[1, 1]) == {"accuracy": 0.5}
    # x = 1,2,3,4 vs y = 1,3,2,4: Pearson = Spearman = 0.8
    assert load_metric("stsb").compute(predictions=[1, 2, 3, 4], references=[1, 3, 2, 4]) == pytest.approx(
        {"pearson": 0.8, "spearmanr": 0.8}
    )
    # all-negative predictions and references: scikit-learn's conventions (F1 0, MCC 0)
    assert load_metric("qqp").compute(predictions=[0, 0], references=[0, 0]) == {"accuracy": 1.0, "f1": 0.0}
    assert load_metric("cola").compute(predictions=[1, 1, 1], references=[0, 1, 1]) == {"matthews_correlation": 0.0}


def test_glue_agrees_with_sklearn_and_scipy():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(5):
        references, predictions = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
        result = load_metric("mrpc").compute(predictions=predictions, references=references)
        assert result["f1"] == pytest.approx(sklearn_metrics.f1_score(references, predictions))
        assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(references, predictions))
        cola = load_metric("cola").compute(predictions=predictions, references=references)
        assert cola["matthews_correlation"] == pytest.approx(sklearn_metrics.matthews_corrcoef(references, predictions))
    # STS-B scores come in steps of 0.2: many ties, which Spearman must average
    gold = rng.integers(0, 26, 300) / 5.0
    predicted = np.round(gold + rng.normal(0, 1.0, 300), 1)
    result = load_metric("stsb").compute(predictions=predicted, references=gold)
    assert result["pearson"] == pytest.approx(stats.pearsonr(predicted, gold)[0], abs=1e-12)
    assert result["spearmanr"] == pytest.approx(stats.spearmanr(predicted, gold)[0], abs=1e-12)
    assert result["spearmanr"] != pytest.approx(result["pearson"], abs=1e-6)


def test_add_batch_accumulates():
    metric = load_metric("sst2")
    metric.add_batch(predictions=[1, 1], references=[1, 0])
    metric.add_batch(predictions=[0, 0], references=[0, 0])
    assert metric.compute() == {"accuracy": 0.75}


def test_compute_metrics_for_trainer():
    logits = np.array([[2.0, -1.0], [0.1, 0.3], [1.0, 0.0]])
    labels = np.array([0, 1, 1])
    assert glue_compute_metrics("mrpc")(EvalPrediction(predictions=logits, label_ids=labels)) == pytest.approx(
        {"accuracy": 2 / 3, "f1": 2 / 3}
    )
    scores = np.array([[1.0], [2.0], [3.5]])
    result = glue_compute_metrics("stsb")(
        EvalPrediction(predictions=(scores, None), label_ids=np.array([1.0, 2.0, 3.0]))
    )
    assert result["spearmanr"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown GLUE task 'squad'"):
        glue_compute_metrics("squad")


def test_unknown_metric_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown metric 'glue'; valid names are: cola, sst2.*squad, squad_v2"):
        load_metric("glue")
    assert set(load_metric("glue/mnli_mismatched").compute(predictions=[0], references=[0])) == {"accuracy"}
    import evaluate

    with pytest.raises(ValueError, match="unknown GLUE metric config 'hans'"):
        evaluate.load(str(GLUE_METRIC_PATH), config_name="hans")


# ----------------------------------------------------------------------------------------------------------
# SQuAD
# ----------------------------------------------------------------------------------------------------------


def squad(predictions, golds, config="squad"):
    return load_metric(config).compute(
        predictions=[{"id": str(i), "prediction_text": p} for i, p in enumerate(predictions)],
        references=[
            {"id": str(i), "answers": {"text": list(g), "answer_start": [0] * len(g)}} for i, g in enumerate(golds)
        ],
    )


def test_squad_official_normalisation_and_best_gold():
    # Articles, punctuation, case and spacing are ignored.
    assert squad(["The Eiffel  Tower!"], [["eiffel tower"]]) == {"exact_match": 100.0, "f1": 100.0}
    # pred "in Paris France" vs gold "Paris": precision 1/3, recall 1 -> F1 0.5; no exact match.
    assert squad(["in Paris, France"], [["Paris"]]) == pytest.approx({"exact_match": 0.0, "f1": 50.0})
    # The best of several gold answers counts: "Denver Broncos" matches the second exactly.
    assert squad(["Denver Broncos"], [["Broncos", "the Denver Broncos"]]) == {"exact_match": 100.0, "f1": 100.0}
    # Averages in percent over questions: (1 + 0) / 2 exact, (1 + 0.5) / 2 F1.
    assert squad(["Paris", "in Paris France"], [["Paris"], ["Paris"]]) == pytest.approx(
        {"exact_match": 50.0, "f1": 75.0}
    )
    # F1 counts repeated tokens once per occurrence: pred "a b b" vs gold "b c": common 1 -> P 1/3, R 1/2, F1 0.4
    assert squad(["x y y"], [["y z"]])["f1"] == pytest.approx(40.0)


def test_squad_v2_unanswerable_questions():
    result = squad(["", "Paris", "", "Paris"], [[], [], ["Paris"], ["Paris"]], config="squad_v2")
    # q0 no-answer answered "" (right), q1 no-answer answered (wrong), q2 answerable answered "" (wrong), q3 right
    assert result == pytest.approx(
        {
            "exact_match": 50.0,
            "f1": 50.0,
            "total": 4,
            "HasAns_exact_match": 50.0,
            "HasAns_f1": 50.0,
            "HasAns_total": 2,
            "NoAns_exact_match": 50.0,
            "NoAns_f1": 50.0,
            "NoAns_total": 2,
        }
    )
    with pytest.raises(ValueError, match="has no gold answer; use config 'squad_v2'"):
        squad([""], [[]])


def test_squad_errors_on_missing_predictions():
    with pytest.raises(ValueError, match=r"1 reference\(s\) have no prediction, e.g. ids \['b'\]"):
        load_metric("squad").compute(
            predictions=[{"id": "a", "prediction_text": "x"}, {"id": "c", "prediction_text": "y"}],
            references=[
                {"id": "a", "answers": {"text": ["x"], "answer_start": [0]}},
                {"id": "b", "answers": {"text": ["y"], "answer_start": [0]}},
            ],
        )
