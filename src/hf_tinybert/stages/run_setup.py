"""What every stage does around training: guard the output folder, find the checkpoint to resume, record
the arguments of the run."""

from __future__ import annotations

import dataclasses
import os

from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from ..utils import check_output_dir, write_json

logger = logging.get_logger(__name__)

RUN_ARGUMENTS_FILE = "run_arguments.json"


def prepare_output_dir(
    output_dir: str, overwrite: bool = False, resume_from_checkpoint: str | bool | None = None
) -> str | None:
    """Check that a run may write into `output_dir` and resolve the checkpoint to resume from.

    Args:
        output_dir: where the run writes.
        overwrite: allow writing into a non-empty folder (files of the same name are replaced).
        resume_from_checkpoint: a checkpoint folder, or `"last"` / `True` for the newest `checkpoint-N` in
            `output_dir`.

    Returns:
        The checkpoint folder to pass to `Trainer.train(resume_from_checkpoint=...)`, or None.

    Raises:
        OutputExistsError: `output_dir` holds files, and neither `overwrite` nor a resume was asked for (a
            `FileExistsError` and a `ValueError`).
        FileNotFoundError: a resume was asked for but there is no such checkpoint.
    """
    if resume_from_checkpoint in (True, "last", "true", "True"):
        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if last is None:
            raise FileNotFoundError(f"--resume_from_checkpoint last: no checkpoint-N folder in {output_dir}")
        logger.info(f"Resuming from {last}")
        return last
    if resume_from_checkpoint:
        if not os.path.isdir(resume_from_checkpoint):
            raise FileNotFoundError(f"Checkpoint {resume_from_checkpoint} does not exist")
        return str(resume_from_checkpoint)
    check_output_dir(output_dir, overwrite, hint="or --resume_from_checkpoint last to continue its run")
    os.makedirs(output_dir, exist_ok=True)
    return None


def save_run_arguments(output_dir: str, *arguments) -> str:
    """Write the dataclass arguments of a run to `output_dir/run_arguments.json` (one object per dataclass)."""
    record = {}
    for args in arguments:
        if args is None:
            continue
        values = args.to_dict() if hasattr(args, "to_dict") else dataclasses.asdict(args)
        record[type(args).__name__] = {k: v for k, v in values.items() if not k.endswith("token")}
    path = os.path.join(output_dir, RUN_ARGUMENTS_FILE)
    write_json(path, record)
    return path
