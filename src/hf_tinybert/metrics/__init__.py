"""Offline evaluation metrics: GLUE and SQuAD `evaluate` modules shipped inside the package.

`evaluate.load("glue")` fetches its script from the Hub; these modules are loaded from their path in
the installed package instead, so they work with no network (also with `HF_HUB_OFFLINE=1`).

Example:
    ```python
    >>> from hf_tinybert.metrics import load_metric
    >>> load_metric("mrpc").compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666, 'f1': 0.6666666666666666}
    ```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Folder holding the metric modules (`glue/glue.py`, `squad/squad.py`).
METRICS_DIR = Path(__file__).resolve().parent
GLUE_METRIC_PATH = METRICS_DIR / "glue" / "glue.py"
SQUAD_METRIC_PATH = METRICS_DIR / "squad" / "squad.py"

#: Names `load_metric` accepts for GLUE (each is also the config of the GLUE module).
GLUE_METRIC_NAMES = (
    "cola",
    "sst2",
    "mrpc",
    "qqp",
    "stsb",
    "mnli",
    "mnli_matched",
    "mnli_mismatched",
    "qnli",
    "rte",
    "wnli",
)
#: Names `load_metric` accepts for SQuAD.
SQUAD_METRIC_NAMES = ("squad", "squad_v2")


def load_metric(name_or_task: str, **kwargs: Any):
    """Load a GLUE task's metric or the SQuAD metric from the package, without network access.

    Args:
        name_or_task: a GLUE task (`"cola"`, `"sst2"`, `"mrpc"`, `"qqp"`, `"stsb"`, `"mnli"`,
            `"mnli_matched"`, `"mnli_mismatched"`, `"qnli"`, `"rte"`, `"wnli"`; `"glue/<task>"` works too),
            `"squad"` (v1.1) or `"squad_v2"`.
        **kwargs: passed to `evaluate.load` (e.g. `experiment_id`, `num_process`, `process_id`,
            `keep_in_memory`, `cache_dir`).

    Returns:
        An `evaluate.EvaluationModule`: `compute(predictions=..., references=...)`, `add_batch(...)`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    import evaluate

    key = str(name_or_task).lower()
    if key.startswith("glue/"):
        key = key[len("glue/") :]
    if key in GLUE_METRIC_NAMES:
        return evaluate.load(str(GLUE_METRIC_PATH), config_name=key, **kwargs)
    if key in SQUAD_METRIC_NAMES:
        return evaluate.load(str(SQUAD_METRIC_PATH), config_name=key, **kwargs)
    raise ValueError(
        f"unknown metric {name_or_task!r}; valid names are: {', '.join(GLUE_METRIC_NAMES + SQUAD_METRIC_NAMES)}"
    )


def glue_compute_metrics(task: str) -> Callable[[Any], dict[str, float]]:
    """Build a `compute_metrics` function for `Trainer` on a GLUE task.

    The function takes an `EvalPrediction` (or a `(predictions, label_ids)` pair), turns logits into
    class ids (arg-max over the last axis; for `stsb` the single output is the score) and returns the
    task's metrics.

    Args:
        task: a GLUE task name, as for `load_metric`.

    Returns:
        `compute_metrics(eval_prediction) -> dict[str, float]`.

    Raises:
        ValueError: an unknown task.
    """
    key = str(task).lower()
    if key.startswith("glue/"):
        key = key[len("glue/") :]
    if key not in GLUE_METRIC_NAMES:
        raise ValueError(f"unknown GLUE task {task!r}; valid tasks are: {', '.join(GLUE_METRIC_NAMES)}")
    metric = load_metric(key)

    def compute_metrics(eval_prediction) -> dict[str, float]:
        predictions, labels = eval_prediction[0], eval_prediction[1]
        if isinstance(predictions, (tuple, list)):
            predictions = predictions[0]
        predictions = np.asarray(predictions)
        # regression: the single output is the score; classification: the arg-max class
        predictions = predictions.reshape(len(predictions), -1)[:, 0] if key == "stsb" else predictions.argmax(axis=-1)
        return metric.compute(predictions=predictions, references=np.asarray(labels))

    return compute_metrics


__all__ = [
    "GLUE_METRIC_NAMES",
    "GLUE_METRIC_PATH",
    "METRICS_DIR",
    "SQUAD_METRIC_NAMES",
    "SQUAD_METRIC_PATH",
    "glue_compute_metrics",
    "load_metric",
]
