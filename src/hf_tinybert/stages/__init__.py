"""TinyBERT's recipe as functions, one per stage (the `hf-tinybert` commands call these)."""

from .evaluation import EvaluateArguments, evaluate_model
from .finetune import FinetuneArguments, finetune
from .general_distill import GeneralDistillArguments, general_distill
from .run_setup import prepare_output_dir, save_run_arguments
from .task_data import TaskData, TaskDataArguments, evaluate_on_task, load_task_data
from .task_distill import TaskDistillArguments, task_distill

__all__ = [
    "EvaluateArguments",
    "FinetuneArguments",
    "GeneralDistillArguments",
    "TaskData",
    "TaskDataArguments",
    "TaskDistillArguments",
    "evaluate_model",
    "evaluate_on_task",
    "finetune",
    "general_distill",
    "load_task_data",
    "prepare_output_dir",
    "save_run_arguments",
    "task_distill",
]
