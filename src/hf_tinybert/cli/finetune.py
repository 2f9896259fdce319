"""Fine-tune a teacher on a GLUE task, SQuAD or your own data (optionally LoRA, merged).

Example:
  hf-tinybert finetune --model_name_or_path bert-base-uncased --task sst2 --data_dir ../shared/data/glue \
      --output_dir runs/teacher-sst2 --num_train_epochs 3 --learning_rate 2e-5
"""

from __future__ import annotations

import json

from ..precision import PrecisionArguments
from ..stages import FinetuneArguments, TaskDataArguments, finetune
from .stage_arguments import parse_stage_arguments


def main(argv: list[str] | None = None) -> int:
    model_args, data_args, training_args = parse_stage_arguments(
        (FinetuneArguments, TaskDataArguments, PrecisionArguments), argv, "hf-tinybert finetune", __doc__
    )
    metrics = finetune(model_args, data_args, training_args)
    if training_args.should_save:  # once, on the main process
        print(json.dumps(metrics, indent=2))
    return 0
