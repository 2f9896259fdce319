"""Evaluate any saved model (teacher or student) on a task with the task's metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import AutoTokenizer, Trainer, TrainingArguments
from transformers.utils import logging

from ..utils import check_model_source
from .models import load_model_for_task
from .run_setup import save_run_arguments
from .task_data import TaskDataArguments, data_collator_for, describe, evaluate_on_task, load_task_data

logger = logging.get_logger(__name__)


@dataclass
class EvaluateArguments:
    """The model to evaluate."""

    model_name_or_path: str = field(metadata={"help": "A fine-tuned model or distilled student (path or Hub id)."})
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the model's."})


def evaluate_model(args: EvaluateArguments, data_args: TaskDataArguments, training_args: TrainingArguments) -> dict:
    """Evaluate a saved model on the task's evaluation set(s); metrics go to `output_dir/eval_results.json`."""
    check_model_source(args.model_name_or_path, "--model_name_or_path")
    check_model_source(args.tokenizer_name, "--tokenizer_name")
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name or args.model_name_or_path)
    data = load_task_data(data_args, tokenizer, need_train=False)
    logger.info(describe(data))
    model = load_model_for_task(args.model_name_or_path, data)
    trainer = Trainer(
        model=model,
        args=training_args,
        processing_class=tokenizer,
        data_collator=data_collator_for(data, tokenizer),
    )
    metrics = evaluate_on_task(trainer, data)
    trainer.save_metrics("eval", metrics)
    if training_args.should_save:
        save_run_arguments(training_args.output_dir, args, data_args)
    return metrics
