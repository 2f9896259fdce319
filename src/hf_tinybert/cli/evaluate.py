"""Evaluate a saved model (teacher or student) on a task; prints and saves the metrics.

Example:
  hf-tinybert evaluate --model_name_or_path runs/student-sst2 --task sst2 --data_dir ../shared/data/glue \\
      --output_dir runs/student-sst2/eval
"""

from __future__ import annotations

from transformers import TrainingArguments

from ..stages import EvaluateArguments, TaskDataArguments, evaluate_model
from . import command
from .arguments import run_stage


@command("evaluate")
def main(argv: list[str]) -> int:
    return run_stage(
        evaluate_model, (EvaluateArguments, TaskDataArguments, TrainingArguments), argv, "hf-tinybert evaluate", __doc__
    )
