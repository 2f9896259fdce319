"""Evaluate a saved model (teacher or student) on a task; prints and saves the metrics.

Example:
  hf-tinybert evaluate --model_name_or_path runs/student-sst2 --task sst2 --data_dir ../shared/data/glue \
      --output_dir runs/student-sst2/eval
"""

from __future__ import annotations

import json

from transformers import TrainingArguments

from ..stages import EvaluateArguments, TaskDataArguments, evaluate_model
from .stage_arguments import parse_stage_arguments


def main(argv: list[str] | None = None) -> int:
    args, data_args, training_args = parse_stage_arguments(
        (EvaluateArguments, TaskDataArguments, TrainingArguments), argv, "hf-tinybert evaluate", __doc__
    )
    metrics = evaluate_model(args, data_args, training_args)
    if training_args.should_save:  # once, on the main process
        print(json.dumps(metrics, indent=2))
    return 0
