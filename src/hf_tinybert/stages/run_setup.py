"""What every stage does around training: guard the output folder, find the checkpoint to resume, warn about a
student that cannot learn here, record the arguments of the run, and leave a finished run tidy (the final model
and a loss-curve plot, not every checkpoint)."""

from __future__ import annotations

import dataclasses
import os

from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from ..plots import plot_loss_curves
from ..utils import check_output_dir, write_json
from .pipeline import remove_checkpoints

logger = logging.get_logger(__name__)

RUN_ARGUMENTS_FILE = "run_arguments.json"
LOSS_CURVES_FILE = "loss_curves.png"
KEEP_CHECKPOINTS_HELP = (
    "Keep the checkpoint-N folders of a finished run (by default a finished run keeps only its final model: the "
    "checkpoints serve to resume an unfinished one)."
)


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


def warn_if_random_student_on_cpu(student_model: str, presets, device) -> None:
    """Warn (once) that a student built from a preset starts from random weights, which on a CPU cannot learn."""
    if student_model in presets and getattr(device, "type", str(device)) == "cpu":
        logger.warning_once(
            f"The student {student_model!r} is a preset: it starts from random weights, and a random student needs "
            "GPU-days of general distillation before it can learn a task; on a CPU it stays at chance. Start from a "
            f"slice of the teacher instead (hf-tinybert convert from-teacher TEACHER --preset {student_model} "
            "--output_dir student-init, then --student_model student-init) or from a general-distillation output."
        )


def finish_run(output_dir: str, title: str, *, keep_checkpoints: bool = False, should_save: bool = True) -> None:
    """Leave a finished run tidy: remove its `checkpoint-N` folders (unless `keep_checkpoints`) and draw its loss
    curves into `output_dir/loss_curves.png` (when matplotlib is installed)."""
    if not should_save:
        return
    if not keep_checkpoints:
        remove_checkpoints(output_dir)
    try:
        plot_loss_curves({title: output_dir}, os.path.join(output_dir, LOSS_CURVES_FILE))
    except ImportError:
        logger.info(f"matplotlib is not installed, so {output_dir} gets no {LOSS_CURVES_FILE}")
    except FileNotFoundError:  # no trainer_state.json: nothing was logged
        pass
