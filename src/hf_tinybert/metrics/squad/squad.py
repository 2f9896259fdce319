"""SQuAD exact match and F1 as an `evaluate` module that works offline: load it by path.

Configs: `squad` (also `default`), the official v1.1 evaluation script; `squad_v2`, the official v2.0
rules for unanswerable questions (a question whose gold answers are all empty is answered correctly
only by the empty string). Both return `exact_match` and `f1` in percent (0-100), like the Hub's `squad`
metric; `squad_v2` adds `HasAns_exact_match`, `HasAns_f1`, `HasAns_total`, `NoAns_exact_match`,
`NoAns_f1`, `NoAns_total` (the Hub's `squad_v2` metric calls the first key `exact`) and `total`.

Answers are normalised as in the official scripts: lower-case, drop punctuation, drop the articles
a/an/the, collapse white space. Each prediction is scored against its best-matching gold answer.

This file is self-contained on purpose: `evaluate.load` copies it into its module cache and imports it
from there, so it may not import anything of `hf_tinybert`.
"""

import collections
import re
import string

import datasets
import evaluate

_CITATION = """\
@inproceedings{rajpurkar-etal-2016-squad,
  title={{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text},
  author={Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy},
  booktitle={Proceedings of EMNLP},
  year={2016}
}
"""

_DESCRIPTION = "SQuAD v1.1 / v2.0 exact match and F1 with the official answer normalisation."

_KWARGS_DESCRIPTION = """
Args:
    predictions: a list of {"id": str, "prediction_text": str}.
    references: a list of {"id": str, "answers": {"text": [str, ...], "answer_start": [int, ...]}}.
        Predictions and references are matched by id; every reference needs a prediction.
Returns:
    {"exact_match": float, "f1": float} in percent (squad_v2 adds HasAns_* / NoAns_* / total).
Example:
    >>> metric = evaluate.load("path/to/squad.py")
    >>> metric.compute(predictions=[{"id": "1", "prediction_text": "the Eiffel Tower"}],
    ...                references=[{"id": "1", "answers": {"text": ["Eiffel Tower"], "answer_start": [0]}}])
    {'exact_match': 100.0, 'f1': 100.0}
"""

CONFIGS = ("default", "squad", "squad_v2")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, articles and extra white space (the official SQuAD normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, version_2: bool = False) -> float:
    """Token-level F1 of the normalised texts.

    With `version_2`, an empty prediction or gold answer scores 1.0 only if both are empty (v2.0 rule);
    v1.1 scores any pair without a common token 0.0.
    """
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if version_2 and (not prediction_tokens or not gold_tokens):
        return float(prediction_tokens == gold_tokens)
    common = collections.Counter(prediction_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


class Squad(evaluate.Metric):
    """SQuAD exact match and F1 (config `squad` for v1.1, `squad_v2` for v2.0)."""

    def _info(self):
        if self.config_name not in CONFIGS:
            raise ValueError(
                f"unknown SQuAD metric config {self.config_name!r}; valid configs are: {', '.join(CONFIGS)}"
            )
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": {
                            "text": datasets.List(datasets.Value("string")),
                            "answer_start": datasets.List(datasets.Value("int32")),
                        },
                    },
                }
            ),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references):
        version_2 = self.config_name == "squad_v2"
        predicted = {p["id"]: p["prediction_text"] for p in predictions}
        missing = [r["id"] for r in references if r["id"] not in predicted]
        if missing:
            raise ValueError(f"{len(missing)} reference(s) have no prediction, e.g. ids {missing[:3]}")
        if not references:
            raise ValueError("cannot compute the SQuAD metric over zero questions")
        scores = {"has": [], "no": []}
        for reference in references:
            golds = list(reference["answers"]["text"])
            if version_2:
                golds = [g for g in golds if normalize_answer(g)] or [""]
            elif not golds:
                raise ValueError(
                    f"question {reference['id']!r} has no gold answer; use config 'squad_v2' for SQuAD v2.0 data"
                )
            prediction = predicted[reference["id"]]
            exact = max(exact_match_score(prediction, gold) for gold in golds)
            f1 = max(f1_score(prediction, gold, version_2) for gold in golds)
            scores["has" if golds != [""] else "no"].append((exact, f1))
        every = scores["has"] + scores["no"]
        result = {
            "exact_match": 100.0 * sum(e for e, _ in every) / len(every),
            "f1": 100.0 * sum(f for _, f in every) / len(every),
        }
        if version_2:
            result["total"] = len(every)
            for name, key in (("HasAns", "has"), ("NoAns", "no")):
                part = scores[key]
                result[f"{name}_total"] = len(part)
                if part:
                    result[f"{name}_exact_match"] = 100.0 * sum(e for e, _ in part) / len(part)
                    result[f"{name}_f1"] = 100.0 * sum(f for _, f in part) / len(part)
        return result
