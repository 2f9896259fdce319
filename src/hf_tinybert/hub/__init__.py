"""Model cards gathered during distillation, and publishing students to the Hugging Face Hub."""

from .card import ModelCardCallback, ModelCardFacts, render_model_card, speedups_from_benchmark, write_model_card
from .push import PushResult, push_student

__all__ = [
    "ModelCardCallback",
    "ModelCardFacts",
    "PushResult",
    "push_student",
    "render_model_card",
    "speedups_from_benchmark",
    "write_model_card",
]
