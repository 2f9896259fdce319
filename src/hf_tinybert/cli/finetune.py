"""Fine-tune a teacher on a GLUE task, SQuAD or your own data (optionally LoRA, merged).

Example:
  hf-tinybert finetune --model_name_or_path bert-base-uncased --task sst2 --data_dir ../shared/data/glue \\
      --output_dir runs/teacher-sst2 --num_train_epochs 3 --learning_rate 2e-5
"""

from __future__ import annotations

from ..precision import PrecisionArguments
from ..stages import FinetuneArguments, TaskDataArguments, finetune
from . import command
from .arguments import run_stage


@command("finetune")
def main(argv: list[str]) -> int:
    return run_stage(
        finetune, (FinetuneArguments, TaskDataArguments, PrecisionArguments), argv, "hf-tinybert finetune", __doc__
    )
