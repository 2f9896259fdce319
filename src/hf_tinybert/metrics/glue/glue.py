"""GLUE metrics as an `evaluate` module that works offline: load it by path, one config per task.

The keys are those of the Hub's `glue` metric: `cola` -> `matthews_correlation`; `sst2`, `mnli`,
`mnli_matched`, `mnli_mismatched`, `qnli`, `rte`, `wnli` -> `accuracy`; `mrpc`, `qqp` -> `accuracy`,
`f1`; `stsb` -> `pearson`, `spearmanr`. Values are fractions in [0, 1] (correlations in [-1, 1]).
Everything is computed with numpy alone (no scikit-learn or SciPy needed); F1 is the binary F1 of
class 1, as `sklearn.metrics.f1_score`; Spearman's rho averages the ranks of ties, as SciPy does.

This file is self-contained on purpose: `evaluate.load` copies it into its module cache and imports it
from there, so it may not import anything of `hf_tinybert`.
"""

import datasets
import evaluate
import numpy as np

_CITATION = """\
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations},
  year={2019}
}
"""

_DESCRIPTION = "GLUE task metrics (accuracy, binary F1, Matthews correlation, Pearson and Spearman correlation)."

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids (int), or predicted scores (float) for `stsb`.
    references: gold class ids (int), or gold scores (float) for `stsb`.
Returns:
    cola: {"matthews_correlation"}; sst2, mnli(_matched/_mismatched), qnli, rte, wnli: {"accuracy"};
    mrpc, qqp: {"accuracy", "f1"}; stsb: {"pearson", "spearmanr"}.
Example:
    >>> metric = evaluate.load("path/to/glue.py", config_name="mrpc")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666, 'f1': 0.6666666666666666}
"""

ACCURACY_TASKS = ("sst2", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli")
ACCURACY_F1_TASKS = ("mrpc", "qqp")
CONFIGS = ("cola", *ACCURACY_TASKS, *ACCURACY_F1_TASKS, "stsb")


def accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    """Fraction of predictions equal to the references."""
    return float(np.mean(predictions == references))


def binary_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    """F1 of the positive class 1 (0.0 when there is no positive prediction nor reference)."""
    true_positives = int(np.sum((predictions == 1) & (references == 1)))
    false_positives = int(np.sum((predictions == 1) & (references != 1)))
    false_negatives = int(np.sum((predictions != 1) & (references == 1)))
    denominator = 2 * true_positives + false_positives + false_negatives
    return 0.0 if denominator == 0 else 2 * true_positives / denominator


def matthews_correlation(predictions: np.ndarray, references: np.ndarray) -> float:
    """Matthews correlation coefficient (multi-class form; 0.0 when undefined, as scikit-learn)."""
    classes, encoded = np.unique(np.concatenate([references, predictions]), return_inverse=True)
    n = len(references)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(confusion, (encoded[:n], encoded[n:]), 1)
    true_sums, predicted_sums = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, samples = np.trace(confusion), confusion.sum()
    covariance_true_predicted = correct * samples - true_sums @ predicted_sums
    covariance_predicted = samples**2 - predicted_sums @ predicted_sums
    covariance_true = samples**2 - true_sums @ true_sums
    if covariance_predicted * covariance_true == 0:
        return 0.0
    return float(covariance_true_predicted / np.sqrt(covariance_true * covariance_predicted))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r (NaN when one input is constant)."""
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    return float("nan") if denominator == 0 else float(np.clip((x @ y) / denominator, -1.0, 1.0))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (`scipy.stats.rankdata(method="average")`)."""
    order = np.argsort(values, kind="mergesort")
    inverse = np.empty(len(values), dtype=np.intp)
    inverse[order] = np.arange(len(values))
    sorted_values = values[order]
    new_value = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    dense = np.cumsum(new_value)[inverse]
    boundaries = np.r_[np.nonzero(new_value)[0], len(values)]
    return 0.5 * (boundaries[dense] + boundaries[dense - 1] + 1)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    """The GLUE metric of one task (the config name)."""

    def _info(self):
        if self.config_name not in CONFIGS:
            raise ValueError(
                f"unknown GLUE metric config {self.config_name!r}; valid configs are: {', '.join(CONFIGS)}"
            )
        kind = "float64" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(kind), "references": datasets.Value(kind)}),
            reference_urls=["https://gluebenchmark.com/"],
            # No `format="numpy"`: the numpy formatter of `datasets` casts floats to float32.
        )

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions), np.asarray(references)
        if len(references) == 0:
            raise ValueError("cannot compute a GLUE metric over zero examples")
        if self.config_name == "cola":
            return {"matthews_correlation": matthews_correlation(predictions, references)}
        if self.config_name == "stsb":
            predictions, references = predictions.astype(np.float64), references.astype(np.float64)
            return {"pearson": pearson(predictions, references), "spearmanr": spearman(predictions, references)}
        if self.config_name in ACCURACY_F1_TASKS:
            return {"accuracy": accuracy(predictions, references), "f1": binary_f1(predictions, references)}
        return {"accuracy": accuracy(predictions, references)}
