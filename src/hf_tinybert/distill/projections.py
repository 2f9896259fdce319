"""Learnable maps from the student's hidden size to the teacher's (W_e and W_h in the paper), and their file.

They live beside the student during distillation, are trained by the same optimizer, are saved in
checkpoints (and next to the final student) as `distill_projections.safetensors`, and are never part of
the student's own weights.

The file (`save_projections` / `load_projections`; the only format, also written by conversion of original
TinyBERT checkpoints and by weight selection): safetensors metadata `{"format": "pt", "mode": MODE}`, tensors
under `HiddenProjections`' state-dict names, in `torch.nn.Linear`'s layout (`weight` (teacher, student),
`bias` (teacher,)):

- `mode="separate"` (paper):  `embeddings.{weight,bias}`, `hidden.{weight,bias}`
- `mode="shared"` (official code's `fit_dense`): `shared.{weight,bias}`
- `mode="per_layer"` (released v2 checkpoints' `fit_denses.0..M`): `embeddings.*` (was `fit_denses.0`) and
  `layers.{i}.*` (was `fit_denses.{i+1}`) with i = 0..M-1 for student layers 1..M

A projection the run does not distil (no W_h without the hidden loss) may be absent from the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.utils import logging

logger = logging.get_logger(__name__)

PROJECTIONS_FILE = "distill_projections.safetensors"
PROJECTION_MODES = ("separate", "shared", "per_layer")


_NAMES = {"separate": "embeddings, hidden", "shared": "shared", "per_layer": "embeddings, layers.0 .. layers.M-1"}


def check_projections(tensors: dict[str, torch.Tensor], mode: str) -> None:
    """Check that `tensors` are projections of `mode`: names as in the module docstring, a `weight` and a
    `bias` each, all of one shape.

    Raises:
        ValueError: an unknown mode, names of another mode, a missing weight or bias, or shapes that disagree.
    """
    if mode not in PROJECTION_MODES:
        raise ValueError(f"Unknown projection mode {mode!r}; valid modes are: {', '.join(PROJECTION_MODES)}")
    names = {key.rsplit(".", 1)[0] for key in tensors}
    num_layers = sum(bool(re.fullmatch(r"layers\.\d+", name)) for name in names)
    allowed = {"separate": {"embeddings", "hidden"}, "shared": {"shared"}}.get(mode)
    allowed = allowed or {"embeddings", *(f"layers.{i}" for i in range(num_layers))}
    if not names or not names <= allowed:
        raise ValueError(f"Projections of mode {mode!r} are named {_NAMES[mode]}; found {sorted(names) or 'none'}")
    if set(tensors) != {f"{name}.{part}" for name in names for part in ("weight", "bias")}:
        raise ValueError(f"Every projection needs a weight and a bias (and nothing else); found {sorted(tensors)}")
    shapes = {(tuple(tensors[f"{n}.weight"].shape), tuple(tensors[f"{n}.bias"].shape)) for n in names}
    (weight, bias), *others = shapes
    if others or len(weight) != 2 or bias != weight[:1]:
        raise ValueError(
            "Every projection needs a weight (teacher size, student size) and a bias (teacher size,), all of one "
            f"shape; found {sorted(shapes)}"
        )


def save_projections(
    tensors: dict[str, torch.Tensor | nn.Linear], folder_or_path: str | os.PathLike, mode: str
) -> Path:
    """Write projections as `distill_projections.safetensors` (the format in the module docstring).

    Args:
        tensors: tensors under the file's names (`shared.weight`, ...), or `nn.Linear` modules under the
            projection names (`shared`, `embeddings`, `layers.0`, ...).
        folder_or_path: a folder (the file is written into it as `PROJECTIONS_FILE`) or a `.safetensors` path.
        mode: "separate", "shared" or "per_layer".

    Returns:
        The path written.

    Raises:
        ValueError: see `check_projections`.
    """
    flat: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if isinstance(value, nn.Linear):
            flat.update({f"{name}.weight": value.weight, f"{name}.bias": value.bias})
        else:
            flat[name] = value
    check_projections(flat, mode)
    path = Path(folder_or_path)
    if path.is_dir() or path.suffix != ".safetensors":
        path = path / PROJECTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in flat.items()}
    save_file(state, path, metadata={"format": "pt", "mode": mode})
    return path


def load_projections(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read a `distill_projections.safetensors` file, or the one in a folder.

    Returns:
        `(tensors, mode)`.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not in this format (its metadata or names; see `check_projections`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / PROJECTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No distillation projections file at {path}")
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != "pt" or metadata.get("mode") not in PROJECTION_MODES:
        raise ValueError(
            f"{path} is not a distillation projections file: its metadata is {metadata}, expected format 'pt' and "
            f"a mode among {', '.join(PROJECTION_MODES)} (a student converted by an older hf-tinybert: convert "
            "the original checkpoint again)"
        )
    tensors = load_file(path)
    try:
        check_projections(tensors, metadata["mode"])
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return tensors, metadata["mode"]


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
        if mode not in PROJECTION_MODES:
            raise ValueError(f"Unknown projection mode {mode!r}; valid modes are: {', '.join(PROJECTION_MODES)}")
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
        return str(save_projections(self.state_dict(), Path(folder) / PROJECTIONS_FILE, self.mode))

    def load(self, folder: str | os.PathLike, strict: bool = True) -> bool:
        """Load `folder/distill_projections.safetensors` if it exists and fits; returns whether it was loaded.

        Raises:
            ValueError: with `strict`, when the file is not a projections file or its tensors do not fit these
                projections (names both sides).
        """
        path = os.path.join(folder, PROJECTIONS_FILE)
        if self.is_identity or not os.path.isfile(path):
            return False
        own = self.state_dict()
        try:
            saved, mode = load_projections(path)
        except ValueError as err:
            saved, mode, problems = {}, None, [str(err)]
        else:
            # tensors in the file that these projections do not have (W_h when hidden_loss_weight=0) are left unused
            problems = [f"the file has mode {mode!r}"] if mode != self.mode else []
            problems += sorted(set(own) - set(saved))
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
