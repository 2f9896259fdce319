"""Student folders: a converted original TinyBERT checkpoint, or a student cut out of a teacher, written with its
tokenizer and its distillation projections (`distill_projections.safetensors`, `distill.save_projections`).

The in-memory halves live in `hf_tinybert.modeling` (`load_original_checkpoint`, `select_student_weights`); these
functions check the output folder first, then build the student and write it. Every folder they write is a
`student_model` for `general_distill` / `task_distill`, whose trainer loads the projections file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging

from ..distill.projections import PROJECTIONS_FILE, check_projections, save_projections
from ..modeling.configuration_tinybert import TinyBertConfig
from ..modeling.convert import load_original_checkpoint, save_model_folder
from ..modeling.weight_selection import select_student_weights
from ..utils import check_output_dir

logger = logging.get_logger(__name__)

__all__ = ["ConversionResult", "convert_original_checkpoint", "save_sliced_student", "save_student"]


@dataclass
class ConversionResult:
    """What `convert_original_checkpoint` wrote.

    Attributes:
        output_dir: the student folder.
        head: the head's name (a key of `hf_tinybert.modeling.HEADS`).
        model_class: name of the saved class, e.g. `"TinyBertForSequenceClassification"`.
        fit_size: the `fit_size` written into the config.
        projections_file: path of `distill_projections.safetensors`, or `None` if the checkpoint had none.
        tokenizer_saved: whether tokenizer files were written.
        dropped_keys, initialized_keys: see `hf_tinybert.modeling.OriginalCheckpoint`.
    """

    output_dir: Path
    head: str
    model_class: str
    fit_size: int
    projections_file: Path | None
    tokenizer_saved: bool
    dropped_keys: list[str]
    initialized_keys: list[str]


def save_student(
    model: PreTrainedModel,
    output_dir: str | os.PathLike,
    *,
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None = None,
    projections: dict[str, torch.Tensor] | None = None,
    projection_mode: str = "separate",
    overwrite: bool = False,
) -> Path:
    """Save a student with its tokenizer and, if given, its distillation projections.

    Args:
        model: the student.
        output_dir: where to write; must be empty or absent unless `overwrite=True`.
        tokenizer: a tokenizer, or a folder (or Hub id) to load one from; `None` saves none.
        projections: tensors under `HiddenProjections`' names, written as `distill_projections.safetensors`.
        projection_mode: their mode ("separate", "shared" or "per_layer").
        overwrite: replace the contents of a non-empty `output_dir`.

    Returns:
        `output_dir` as a `Path`.

    Raises:
        OutputExistsError: `output_dir` is not empty and `overwrite` is `False`, or it holds the tokenizer folder.
        ValueError: the tokenizer's vocabulary is larger than the student's (naming both sizes), or the
            projections are not valid for `projection_mode`; nothing is written then.
    """
    sources = [tokenizer] if isinstance(tokenizer, (str, os.PathLike)) else []
    out = check_output_dir(output_dir, overwrite, sources=sources)
    if projections is not None:
        check_projections(projections, projection_mode)
    save_model_folder(model, out, tokenizer=tokenizer)
    if projections is not None:
        save_projections(projections, out, projection_mode)
    return out


def convert_original_checkpoint(
    checkpoint_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    head: str | None = None,
    num_labels: int | None = None,
    fit_size: int | None = None,
    do_lower_case: bool | None = None,
    overwrite: bool = False,
) -> ConversionResult:
    """Convert an original TinyBERT checkpoint (official code or Hub copy) into a TinyBERT student folder.

    The folder holds the model (`config.json` with `model_type: "tinybert"`, `fit_size` and an `auto_map` for
    `trust_remote_code`, the code files, `model.safetensors`), the tokenizer (built from `vocab.txt`), and
    `distill_projections.safetensors` when the checkpoint has projections: `fit_dense` in mode "shared",
    `fit_denses.0..M` in mode "per_layer", so they load into `HiddenProjections` of that mode.

    Args:
        checkpoint_dir: the original checkpoint folder.
        output_dir: where to write the student; must be empty or absent unless `overwrite=True`.
        head, num_labels, fit_size, do_lower_case: see `hf_tinybert.modeling.load_original_checkpoint`.
        overwrite: replace the contents of a non-empty `output_dir`.

    Raises:
        OutputExistsError: `output_dir` is not empty and `overwrite` is `False`, or it would hold the input.
        FileNotFoundError, ValueError: see `load_original_checkpoint`.
    """
    check_output_dir(output_dir, overwrite, sources=[checkpoint_dir])
    loaded = load_original_checkpoint(
        checkpoint_dir, head=head, num_labels=num_labels, fit_size=fit_size, do_lower_case=do_lower_case
    )
    out = save_student(
        loaded.model,
        output_dir,
        tokenizer=loaded.tokenizer,
        projections=loaded.projections,
        projection_mode=loaded.projection_mode or "shared",
        overwrite=overwrite,
    )
    logger.info(f"Converted {checkpoint_dir} to a TinyBERT student ({type(loaded.model).__name__}) in {out}")
    return ConversionResult(
        output_dir=out,
        head=loaded.head,
        model_class=type(loaded.model).__name__,
        fit_size=loaded.model.config.fit_size,
        projections_file=None if loaded.projections is None else out / PROJECTIONS_FILE,
        tokenizer_saved=loaded.tokenizer is not None,
        dropped_keys=loaded.dropped_keys,
        initialized_keys=loaded.initialized_keys,
    )


def save_sliced_student(
    teacher: PreTrainedModel | str | os.PathLike,
    output_dir: str | os.PathLike,
    student: str | TinyBertConfig | None = "tinybert-4l-312d",
    layer_map="uniform",
    *,
    num_layers: int | None = None,
    head: str | None = None,
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """`select_student_weights` of `teacher`, saved to `output_dir` with the tokenizer and, for a student
    narrower than the teacher, its projections (mode "separate"), ready for `general_distill` or `task_distill`
    (`student_model=output_dir`). At the teacher's width the projections are the identity, which the trainer
    uses anyway, so no file is written (a file would make `equal_width_projection="auto"` learn a d x d map).

    Args:
        teacher: the teacher model, or its folder or Hub id.
        output_dir: where to write; must be empty or absent unless `overwrite=True`.
        student, layer_map, num_layers, head: see `hf_tinybert.modeling.select_student_weights` (`student=None`:
            the teacher's width, i.e. a student made of a subset of the teacher's layers).
        tokenizer: a tokenizer, or a folder (or Hub id) to load one from; default: `teacher` when it is a path.
        overwrite: replace the contents of a non-empty `output_dir`.

    Raises:
        OutputExistsError: `output_dir` is not empty and `overwrite` is `False`, or it would hold an input.
        ValueError: see `select_student_weights` and `save_student`.
    """
    if tokenizer is None and isinstance(teacher, (str, os.PathLike)):
        tokenizer = teacher
    check_output_dir(
        output_dir, overwrite, sources=[p for p in (teacher, tokenizer) if isinstance(p, (str, os.PathLike))]
    )
    model, projections = select_student_weights(teacher, student, layer_map, num_layers=num_layers, head=head)
    narrower = model.config.hidden_size < model.config.fit_size
    return save_student(
        model, output_dir, tokenizer=tokenizer, projections=projections if narrower else None, overwrite=overwrite
    )
