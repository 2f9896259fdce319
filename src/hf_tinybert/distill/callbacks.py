"""How `DistillationTrainer` reaches the student's model card and its publishing without importing them.

The trainer's `create_model_card` and `push_to_hub` call the `StudentCardHooks` among its callbacks. The package
gives one: `hf_tinybert.hub.ModelCardCallback`, which gathers the run's facts while it trains, writes the card and
uploads with `hf_tinybert.hub.push_student`. A trainer built without one gets
`DistillationTrainer.default_card_hooks(trainer)` (set by `import hf_tinybert` to `ModelCardCallback.for_trainer`);
with neither, both methods are `Trainer`'s own.
"""

from __future__ import annotations

from transformers import TrainerCallback


class StudentCardHooks(TrainerCallback):
    """A callback that can write the student's model card and publish the student.

    Subclasses implement both methods; `facts` is what the card says (read and extended by the stages).
    """

    facts = None

    def write_card(self, trainer, output_dir: str, **kwargs) -> None:
        """Write the card of `trainer`'s student into `output_dir` (called by `trainer.create_model_card(**kwargs)`
        on the process that saves)."""
        raise NotImplementedError

    def push(self, trainer, repo_id: str, **kwargs):
        """Upload `trainer.args.output_dir`, where the student and its card were just saved, to `repo_id` (called by
        `trainer.push_to_hub(**kwargs)` on the process that saves); returns what the upload returns."""
        raise NotImplementedError


__all__ = ["StudentCardHooks"]
