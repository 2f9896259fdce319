"""Learnable maps from the student's hidden size to the teacher's (W_e and W_h in the paper).

They live beside the student during distillation, are trained by the same optimizer, are saved in
checkpoints (and next to the final student) as `distill_projections.safetensors`, and are never part of
the student's own weights. File keys, shared with `hf_tinybert.modeling.convert`:

- `projection="separate"` (paper):  `embeddings.{weight,bias}`, `hidden.{weight,bias}`
- `projection="shared"` (official code's `fit_dense`): `shared.{weight,bias}`
- `projection="per_layer"` (released v2 checkpoints' `fit_denses.0..M`): `embeddings.*`, `layers.{i}.*`
  with i = 0..M-1 for student layers 1..M
"""

from __future__ import annotations

import os

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.utils import logging

logger = logging.get_logger(__name__)

PROJECTIONS_FILE = "distill_projections.safetensors"


def _linear(in_features: int, out_features: int, initializer_range: float) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.normal_(layer.weight, std=initializer_range)  # BERT's initialisation, as in the official code
    nn.init.zeros_(layer.bias)
    return layer


class HiddenProjections(nn.Module):
    """Maps student embeddings / hidden states (…, d') to the teacher's size (…, d).

    With equal sizes there is nothing to learn and both maps are the identity (no parameters), unless
    `learn_equal_width`: then they are learned d x d maps like any other (the official code always has its
    `fit_dense`, and converted TinyBERT-6L-768 checkpoints carry a trained one).

    Args:
        student_size: d', the student's hidden size.
        teacher_size: d, the teacher's hidden size.
        num_student_layers: M (used by `mode="per_layer"`).
        mode: "separate", "shared" or "per_layer" (see the module docstring).
        initializer_range: std of the normal initialisation of the weights.
        embeddings: whether the embedding layer is distilled (else no W_e is created, so every parameter gets
            a gradient each step, as DDP expects).
        hidden_states: whether the hidden states are distilled (else no W_h).
        learn_equal_width: learn the maps even when the two sizes are equal.
    """

    def __init__(
        self,
        student_size: int,
        teacher_size: int,
        num_student_layers: int,
        mode: str = "separate",
        initializer_range: float = 0.02,
        embeddings: bool = True,
        hidden_states: bool = True,
        learn_equal_width: bool = False,
    ):
        super().__init__()
        self.mode = mode
        self.student_size, self.teacher_size = student_size, teacher_size
        same_size = student_size == teacher_size and not learn_equal_width
        self.is_identity = same_size or not (embeddings or hidden_states)
        if mode not in ("separate", "shared", "per_layer"):
            raise ValueError(f"Unknown projection mode {mode!r}; valid modes are: separate, shared, per_layer")
        if self.is_identity:
            return
        make = lambda: _linear(student_size, teacher_size, initializer_range)  # noqa: E731
        if mode == "shared":
            self.shared = make()
            return
        if embeddings:
            self.embeddings = make()
        if hidden_states and mode == "separate":
            self.hidden = make()
        elif hidden_states:
            self.layers = nn.ModuleList(make() for _ in range(num_student_layers))

    def forward(
        self, embeddings: torch.Tensor | None, hidden_states: dict[int, torch.Tensor]
    ) -> tuple[torch.Tensor | None, dict[int, torch.Tensor]]:
        """Project the captured student embeddings and hidden states {layer (1-based): tensor} in one call
        (one call per step, so the module can be wrapped in DistributedDataParallel)."""
        projected_embeddings = None if embeddings is None else self.project_embeddings(embeddings)
        return projected_embeddings, {m: self.project_hidden(h, m) for m, h in hidden_states.items()}

    def project_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        if self.is_identity:
            return embeddings
        return (self.shared if self.mode == "shared" else self.embeddings)(embeddings)

    def project_hidden(self, hidden: torch.Tensor, student_layer: int) -> torch.Tensor:
        """Project the output of student layer `student_layer` (1-based)."""
        if self.is_identity:
            return hidden
        if self.mode == "shared":
            return self.shared(hidden)
        if self.mode == "separate":
            return self.hidden(hidden)
        return self.layers[student_layer - 1](hidden)

    def save(self, folder: str | os.PathLike) -> str | None:
        """Write the projections to `folder/distill_projections.safetensors`; nothing when they are identities."""
        if self.is_identity:
            return None
        path = os.path.join(folder, PROJECTIONS_FILE)
        state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.state_dict().items()}
        save_file(state, path, metadata={"format": "pt", "mode": self.mode})
        return path

    def load(self, folder: str | os.PathLike, strict: bool = True) -> bool:
        """Load `folder/distill_projections.safetensors` if it exists and fits; returns whether it was loaded.

        Raises:
            ValueError: with `strict`, when the file's tensors do not fit these projections (names both sides).
        """
        path = os.path.join(folder, PROJECTIONS_FILE)
        if self.is_identity or not os.path.isfile(path):
            return False
        saved = load_file(path)
        own = self.state_dict()
        # tensors in the file that these projections do not have (W_h when hidden_loss_weight=0) are left unused
        problems = sorted(set(own) - set(saved))
        problems += [
            f"{name}: file {tuple(saved[name].shape)} vs expected {tuple(own[name].shape)}"
            for name in sorted(set(own) & set(saved))
            if saved[name].shape != own[name].shape
        ]
        if problems:
            message = (
                f"{path} does not fit projection={self.mode!r} from {self.student_size} to {self.teacher_size}: "
                f"{'; '.join(problems)}. Set `projection` to the mode the file was written with, or "
                "load_projections=False to start from fresh projections."
            )
            if strict:
                raise ValueError(message)
            logger.warning(message)
            return False
        self.load_state_dict({name: saved[name].to(tensor.device) for name, tensor in own.items()})
        logger.info(f"Loaded distillation projections from {path}")
        return True
