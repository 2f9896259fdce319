"""Task distillation (stage 2): a fine-tuned teacher teaches the student on a task, --stage intermediate|prediction|both.

`--stage both` (default) runs the paper's two steps back to back: intermediate layers for --intermediate_epochs
at --intermediate_learning_rate, then the prediction layer for --prediction_epochs at --prediction_learning_rate,
keeping the best dev checkpoint. `--stage joint` trains all four losses at once.

Example:
  hf-tinybert task-distill --teacher_model runs/teacher-sst2 --student_model runs/general --task sst2 \\
      --data_dir ../shared/data/glue --train_file runs/sst2-augmented.tsv --output_dir runs/student-sst2
"""

from __future__ import annotations

from ..distill import DistillationArguments
from ..stages import TaskDataArguments, TaskDistillArguments, task_distill
from ..stages.task_distill import STEPS
from . import command
from .arguments import run_stage

STAGE_HELP = (
    "'both' (default): the paper's two steps, intermediate layers then the prediction layer; 'intermediate' or "
    "'prediction': one of them; 'joint': all four losses at once."
)


@command("task-distill")
def main(argv: list[str]) -> int:
    return run_stage(
        task_distill,
        (TaskDistillArguments, TaskDataArguments, DistillationArguments),
        argv,
        "hf-tinybert task-distill",
        __doc__,
        command_options={"stage": {"choices": list(STEPS), "default": "both", "help": STAGE_HELP}},
    )
