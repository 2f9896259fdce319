"""Stage 2, task-specific distillation: a fine-tuned teacher teaches the (generally distilled) student on
the task's (augmented) training set, in the paper's two steps: intermediate layers, then the prediction
layer, each with its own epochs and learning rate, keeping the best dev checkpoint of the second."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field

import torch
from transformers import AutoTokenizer
from transformers.trainer_callback import ProgressCallback
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from ..data import check_label_order
from ..distill import DistillationArguments, DistillationTrainer
from ..modeling import TINYBERT_PRESETS, TinyBertConfig
from ..modeling.heads import HEADS
from ..utils import check_model_source
from .run_setup import (
    KEEP_CHECKPOINTS_HELP,
    finish_run,
    prepare_output_dir,
    save_run_arguments,
    warn_if_random_student_on_cpu,
)
from .task_data import (
    SQUAD_TASKS,
    TaskData,
    TaskDataArguments,
    data_collator_for,
    describe,
    evaluate_on_task,
    load_task_data,
)

logger = logging.get_logger(__name__)

STEPS = ("intermediate", "prediction", "both", "joint")
STEP_DONE_FILE = "distill_step_done.json"


@dataclass
class TaskDistillArguments:
    """Teacher, student and the two steps of task distillation."""

    teacher_model: str = field(metadata={"help": "The teacher fine-tuned on the task (path or Hub id)."})
    student_model: str = field(
        default="tinybert-4l-312d",
        metadata={
            "help": "The student: a general-distillation output folder (recommended), or a preset "
            f"({', '.join(TINYBERT_PRESETS)}) to start from random weights."
        },
    )
    intermediate_epochs: float = field(
        default=10.0, metadata={"help": "--stage both: epochs of the intermediate-layer step (paper: 10-20)."}
    )
    intermediate_learning_rate: float = field(
        default=5e-5, metadata={"help": "--stage both: learning rate of the intermediate-layer step."}
    )
    prediction_epochs: float = field(
        default=3.0, metadata={"help": "--stage both: epochs of the prediction-layer step (paper: 3)."}
    )
    prediction_learning_rate: float = field(
        default=3e-5, metadata={"help": "--stage both: learning rate of the prediction-layer step (paper: 1e-5..3e-5)."}
    )
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Write into a non-empty --output_dir."})
    keep_checkpoints: bool = field(default=False, metadata={"help": KEEP_CHECKPOINTS_HELP})


def load_student(student_model: str, data: TaskData, teacher_config):
    """The student with the task's head: from a folder (a general-distillation student gets a new head) or a preset."""
    labels = data.model_config_kwargs()
    if student_model in TINYBERT_PRESETS:
        return data.head.tinybert_class(TinyBertConfig.from_preset(student_model, teacher_config, **labels))
    return data.head.auto_class.from_pretrained(student_model, **labels)


def load_teacher(teacher_model: str, data_args: TaskDataArguments):
    """The fine-tuned teacher with the task's head, loaded before the data; refused when that head would be newly
    initialised (a pre-trained encoder is not a task teacher: its random classifier's logits would be what the
    student learns)."""
    head = HEADS["question-answering" if data_args.task in SQUAD_TASKS else "sequence-classification"]
    teacher, loading = head.auto_class.from_pretrained(teacher_model, output_loading_info=True)
    new_head = [k for k in loading.get("missing_keys", ()) if k.split(".")[0] == head.module]
    if new_head:
        task = f"--task {data_args.task}" if data_args.task != "custom" else "--train_file ... --validation_file ..."
        raise ValueError(
            f"The teacher {teacher_model} has no trained {head.name} head ({', '.join(sorted(new_head))} would be "
            f"newly initialised), so the student would learn random logits: fine-tune it first: hf-tinybert finetune "
            f"--model_name_or_path {teacher_model} {task} --output_dir runs/teacher, then --teacher_model runs/teacher"
        )
    return teacher


def check_teacher_labels(teacher, teacher_model: str, data: TaskData) -> None:
    """The teacher's labels are the task's, in the task's order."""
    if data.kind != "question_answering":
        check_label_order(data.label_names, teacher.config)
        if teacher.config.num_labels != data.num_labels:
            raise ValueError(
                f"The teacher {teacher_model} has num_labels={teacher.config.num_labels}, task {data.name!r} has "
                f"{data.num_labels}: fine-tune the teacher on this task first (`hf-tinybert finetune`)"
            )


class NamedProgressCallback(ProgressCallback):
    """Trainer's progress bar with a name: `--stage both` shows which of its two steps is running."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        if self.training_bar is not None:
            self.training_bar.set_description(self.name)


STEP_NAMES = {"intermediate": "step 1/2: intermediate layers", "prediction": "step 2/2: predictions"}


def _last_checkpoint(folder: str) -> str | None:
    return get_last_checkpoint(folder) if os.path.isdir(folder) else None


def _run_step(
    student, args: DistillationArguments, checkpoint, evaluate: bool, name=None, *, teacher, tokenizer, data, max_length
):
    first_eval = next(iter(data.eval_sets))
    # mask_padding=False is the official code's averaging over padded positions: pad every batch to one length
    pad_to_length = None if args.mask_padding else max_length
    trainer = DistillationTrainer(
        student,
        args,
        teacher_model=teacher,
        train_dataset=data.train,
        eval_dataset=data.eval_sets[first_eval] if evaluate else None,
        processing_class=tokenizer,
        data_collator=data_collator_for(data, tokenizer, pad_to_length),
        compute_metrics=data.compute_metrics(first_eval) if evaluate else None,
    )
    if trainer.model_card_callback is not None:  # each step's card (model-index) names the task's evaluation data
        trainer.model_card_callback.facts.eval_dataset = data.card_dataset()
    if name and trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(NamedProgressCallback(name))
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    trainer.create_model_card()  # the next step (and the final card) continue these facts
    return trainer


def task_distill(
    args: TaskDistillArguments,
    data_args: TaskDataArguments,
    training_args: DistillationArguments,
    stage: str = "both",
) -> dict:
    """Distil the fine-tuned teacher into the student on the task.

    Args:
        args: teacher, student, and the epochs/learning rates of the two steps (`stage="both"`).
        data_args: the task and its (augmented) data.
        training_args: everything else; with `stage="both"` its epochs/learning rate are replaced per step and
            the intermediate step writes to `output_dir/intermediate`.
        stage: `"intermediate"`, `"prediction"`, `"both"` (the paper's two steps back to back) or `"joint"` (all
            four losses at once).

    Returns:
        The final evaluation metrics (also in `output_dir/eval_results.json`).
    """
    if stage not in STEPS:
        raise ValueError(f"Unknown task-distillation stage {stage!r}; valid stages are: {', '.join(STEPS)}")
    check_model_source(args.teacher_model, "--teacher_model")
    if args.student_model not in TINYBERT_PRESETS:
        check_model_source(args.student_model, "--student_model")
    output_dir = training_args.output_dir
    resume = training_args.resume_from_checkpoint
    if stage == "both" and resume not in (None, False, "last", True, "true", "True"):
        raise ValueError("--stage both resumes with --resume_from_checkpoint last (it finds each step's checkpoint)")
    checkpoint = (
        prepare_output_dir(output_dir, args.overwrite_output_dir, resume if stage != "both" else None)
        if not (stage == "both" and resume)
        else None
    )
    teacher = load_teacher(args.teacher_model, data_args)  # refused before any data is read
    tokenizer = AutoTokenizer.from_pretrained(args.teacher_model)
    data = load_task_data(data_args, tokenizer)
    logger.info(describe(data))
    check_teacher_labels(teacher, args.teacher_model, data)
    student = load_student(args.student_model, data, teacher.config)
    warn_if_random_student_on_cpu(args.student_model, TINYBERT_PRESETS, training_args.device)
    run_step = functools.partial(
        _run_step, teacher=teacher, tokenizer=tokenizer, data=data, max_length=data_args.max_seq_length
    )

    if stage in ("intermediate", "prediction", "joint"):
        step_args = dataclasses.replace(training_args, stage=stage)
        trainer = run_step(student, step_args, checkpoint, stage != "intermediate")
    else:
        intermediate_dir = os.path.join(output_dir, "intermediate")
        done_marker = os.path.join(intermediate_dir, STEP_DONE_FILE)
        if os.path.isfile(done_marker):
            logger.info(f"Intermediate-layer step already done in {intermediate_dir}; starting the prediction step")
        else:
            step_args = dataclasses.replace(
                training_args,
                stage="intermediate",
                output_dir=intermediate_dir,
                num_train_epochs=args.intermediate_epochs,
                learning_rate=args.intermediate_learning_rate,
                eval_strategy="no",
                load_best_model_at_end=False,
            )
            step_checkpoint = _last_checkpoint(intermediate_dir) if resume else None
            run_step(student, step_args, step_checkpoint, False, STEP_NAMES["intermediate"])
            if training_args.should_save:
                with open(done_marker, "w", encoding="utf-8") as f:
                    json.dump({"step": "intermediate", "epochs": args.intermediate_epochs}, f)
            if training_args.world_size > 1:
                torch.distributed.barrier()  # the other ranks load the intermediate student rank 0 just saved
        student = data.head.auto_class.from_pretrained(intermediate_dir)
        # Paper: keep the best dev checkpoint of the prediction step.
        per_epoch = training_args.eval_strategy == "no"
        step_args = dataclasses.replace(
            training_args,
            stage="prediction",
            num_train_epochs=args.prediction_epochs,
            learning_rate=args.prediction_learning_rate,
            eval_strategy="epoch" if per_epoch else training_args.eval_strategy,
            save_strategy="epoch" if per_epoch else training_args.save_strategy,
            load_best_model_at_end=True,
            metric_for_best_model=training_args.metric_for_best_model or data.main_metric,
            greater_is_better=True if training_args.metric_for_best_model is None else training_args.greater_is_better,
        )
        step_checkpoint = _last_checkpoint(output_dir) if resume else None
        trainer = run_step(student, step_args, step_checkpoint, True, STEP_NAMES["prediction"])

    metrics = evaluate_on_task(trainer, data)
    trainer.save_metrics("eval", metrics)
    facts = trainer.model_card_callback.facts
    if facts.eval_dataset is not None:
        facts.datasets = list(dict.fromkeys([*facts.datasets, facts.eval_dataset["id"]]))
    if data_args.train_file:  # a local file: named in the card's text, not in its `datasets`
        train_data = f"local file {os.path.basename(data_args.train_file)} ({len(data.train)} examples)"
        for recorded in facts.stages[-2 if stage == "both" else -1 :]:
            recorded["train_datasets"] = [train_data]
    trainer.create_model_card()
    if training_args.should_save:
        save_run_arguments(output_dir, args, data_args, training_args)
    for folder, title in (
        (os.path.join(output_dir, "intermediate"), "task distillation: intermediate layers"),
        (output_dir, f"task distillation ({stage})"),
    ):
        if os.path.isdir(folder):
            finish_run(folder, title, keep_checkpoints=args.keep_checkpoints, should_save=training_args.should_save)
    return metrics
