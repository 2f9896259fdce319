"""Evaluate a saved model (teacher or student) on a task; prints and saves the metrics.

Example:
  hf-tinybert evaluate --model_name_or_path runs/student-sst2 --task_name sst2 --data_dir ../shared/data/glue \\
      --output_dir runs/student-sst2/eval
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..stages import EvaluateArguments, TaskDataArguments, evaluate_model
from . import command
from .arguments import run_stage


@dataclass
class EvaluationRunArguments:
    """Where the metrics go and how the evaluation runs (the `TrainingArguments` an evaluation uses)."""

    output_dir: str = field(metadata={"help": "Folder for eval_results.json and run_arguments.json."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Examples per evaluation batch."})
    use_cpu: bool = field(default=False, metadata={"help": "Evaluate on the CPU even when a GPU is present."})
    bf16: bool = field(default=False, metadata={"help": "Evaluate in bfloat16."})
    fp16: bool = field(default=False, metadata={"help": "Evaluate in float16 (GPUs)."})
    dataloader_num_workers: int = field(default=0, metadata={"help": "Processes that prepare the batches."})
    report_to: str = field(default="none", metadata={"help": "Where to report the metrics (e.g. wandb)."})
    disable_tqdm: bool = field(default=False, metadata={"help": "No progress bar."})
    seed: int = field(default=42, metadata={"help": "Random seed."})


def evaluate(args: EvaluateArguments, data_args: TaskDataArguments, run: EvaluationRunArguments) -> dict:
    from transformers import TrainingArguments

    return evaluate_model(args, data_args, TrainingArguments(**dataclasses.asdict(run)))


@command("evaluate")
def main(argv: list[str]) -> int:
    return run_stage(
        evaluate, (EvaluateArguments, TaskDataArguments, EvaluationRunArguments), argv, "hf-tinybert evaluate", __doc__
    )
