"""General distillation (stage 1): a pre-trained teacher teaches a TinyBERT student on raw text.

Example:
  hf-tinybert general-distill --teacher_model bert-base-uncased --student_model tinybert-4l-312d \
      --corpus ../shared/data/wikitext-2/wiki.valid.tokens --output_dir runs/general --num_train_epochs 3
"""

from __future__ import annotations

import json

from ..distill import DistillationArguments
from ..stages import GeneralDistillArguments, general_distill
from .stage_arguments import parse_stage_arguments


def main(argv: list[str] | None = None) -> int:
    args, training_args = parse_stage_arguments(
        (GeneralDistillArguments, DistillationArguments),
        argv,
        "hf-tinybert general-distill",
        __doc__,
        defaults={"stage": "general"},
    )
    metrics = general_distill(args, training_args)
    if training_args.should_save:  # once, on the main process
        print(json.dumps(metrics, indent=2))
    return 0
