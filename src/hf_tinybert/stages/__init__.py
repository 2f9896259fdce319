"""TinyBERT's recipe as functions, one per stage (the `hf-tinybert` commands call these)."""

from .augment import augment_task_data
from .evaluation import EvaluateArguments, evaluate_model
from .finetune import FinetuneArguments, finetune
from .general_distill import GeneralDistillArguments, general_distill
from .pipeline import (
    PAUSES,
    PauseClock,
    Pipeline,
    cpu_training_arguments,
    evaluate_on_cpu,
    missing_packages,
    offline_teacher_path,
    remove_checkpoints,
    require_packages,
    resume_if_interrupted,
    use_fastest_threads,
)
from .run_setup import prepare_output_dir, save_run_arguments
from .students import ConversionResult, convert_original_checkpoint, save_sliced_student, save_student
from .task_data import TaskData, TaskDataArguments, evaluate_on_task, load_task_data
from .task_distill import TaskDistillArguments, task_distill

__all__ = [
    "ConversionResult",
    "PAUSES",
    "EvaluateArguments",
    "FinetuneArguments",
    "GeneralDistillArguments",
    "PauseClock",
    "Pipeline",
    "TaskData",
    "TaskDataArguments",
    "TaskDistillArguments",
    "augment_task_data",
    "convert_original_checkpoint",
    "cpu_training_arguments",
    "evaluate_model",
    "evaluate_on_cpu",
    "evaluate_on_task",
    "finetune",
    "general_distill",
    "load_task_data",
    "missing_packages",
    "offline_teacher_path",
    "prepare_output_dir",
    "remove_checkpoints",
    "require_packages",
    "resume_if_interrupted",
    "save_run_arguments",
    "save_sliced_student",
    "save_student",
    "task_distill",
    "use_fastest_threads",
]
