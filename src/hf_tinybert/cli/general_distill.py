"""General distillation (stage 1): a pre-trained teacher teaches a TinyBERT student on raw text.

Example:
  hf-tinybert general-distill --teacher_model bert-base-uncased --student_model tinybert-4l-312d \\
      --corpus ../shared/data/wikitext-2/wiki.valid.tokens --output_dir runs/general --num_train_epochs 3
"""

from __future__ import annotations

from ..distill import DistillationArguments
from ..stages import GeneralDistillArguments, general_distill
from . import command
from .arguments import run_stage


@command("general-distill")
def main(argv: list[str]) -> int:
    return run_stage(
        general_distill,
        (GeneralDistillArguments, DistillationArguments),
        argv,
        "hf-tinybert general-distill",
        __doc__,
        defaults={"stage": "general"},
    )
