"""The one student initialiser: a student cut out of a teacher, of the teacher's width or narrower.

Student layer m starts as teacher layer g(m) (the layer choice of distillation). At the teacher's width
(`student=None`) this is the DistilBERT-style student made of a subset of the teacher's layers. A narrower student
is "weight selection" (Xu et al., 2024). A random 4-layer student needs hours of general distillation on GPUs
before it can learn a task (measured for the demo: still at chance after 600 task-distillation steps); the slice
learns the BBC topics in a few dozen steps, so the demo and `benchmarks/reproduce_glue.py` start from it, and the
docs say so wherever they report results. `hf_tinybert.stages.save_sliced_student` writes such a student.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import logging

from .configuration_tinybert import TinyBertConfig
from .convert import bert_config_kwargs, load_bert_family_model
from .heads import HEADS, bert_head_of
from .layer_map import LAYER_MAP_PRESETS, build_layer_map
from .modeling_tinybert import TinyBertPreTrainedModel

logger = logging.get_logger(__name__)

__all__ = ["select_student_weights", "select_teacher_layers"]


def select_teacher_layers(
    strategy: str | Sequence[int], num_teacher_layers: int, num_layers: int | None = None
) -> list[int]:
    """Which teacher layers initialise the student's layers, numbered 1..N as in the paper and in the
    distillation `layer_map` (layer 0 is the embedding layer, always copied).

    Args:
        strategy: `"uniform"` (TinyBERT's g(m) = m·N/M, the top layer of each of M equal blocks: 4 of 12 ->
            [3, 6, 9, 12]), `"first"` (layers 1..M), `"last"` (the top M layers), or explicit layer numbers
            (a sequence or a comma-separated string such as "2,4,6").
        num_teacher_layers: N, the teacher's number of layers.
        num_layers: M, the student's number of layers; required for a strategy name, optional (but checked)
            with explicit layers.

    Raises:
        ValueError: an unknown strategy, a missing/invalid `num_layers`, or layers out of range or repeated.
    """
    if isinstance(strategy, str) and strategy.strip() in LAYER_MAP_PRESETS:
        if num_layers is None:
            raise ValueError(f"layers={strategy!r} needs num_layers (the student's number of layers)")
        if not 1 <= num_layers <= num_teacher_layers:
            raise ValueError(
                f"num_layers must be between 1 and the teacher's {num_teacher_layers} layers, got {num_layers}"
            )
        return build_layer_map(num_layers, num_teacher_layers, strategy)
    if isinstance(strategy, str) and not re.fullmatch(r"[\d,\s]*", strategy):
        raise ValueError(
            f"Unknown layer selection {strategy!r}; valid are: {', '.join(LAYER_MAP_PRESETS)}, or a list of "
            f"teacher layers (1..{num_teacher_layers})"
        )
    layers = [int(i) for i in (strategy.split(",") if isinstance(strategy, str) else strategy) if str(i).strip()]
    if not layers:
        raise ValueError("layers is empty; give at least one teacher layer")
    if num_layers is not None and num_layers != len(layers):
        raise ValueError(f"num_layers={num_layers} but {len(layers)} teacher layers were given: {layers}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"Teacher layers repeat: {layers}; give each layer at most once")
    return build_layer_map(len(layers), num_teacher_layers, layers)


def select_student_weights(
    teacher: PreTrainedModel | str | os.PathLike,
    student: str | TinyBertConfig | None = "tinybert-4l-312d",
    layer_map: str | Sequence[int] = "uniform",
    *,
    num_layers: int | None = None,
    head: str | None = None,
) -> tuple[TinyBertPreTrainedModel, dict[str, torch.Tensor]]:
    """A student whose weights are the teacher's chosen layers, sliced to the student's width.

    Every weight keeps the teacher's first `hidden_size` hidden units, the first `head_size` dimensions of each
    attention head and the first `intermediate_size` feed-forward units (all of them at the teacher's width).
    The head is the teacher's (or `head=`); its weights are copied when their shapes match (same width, same
    labels), else newly initialised. The pooler is copied when both have one. The projections W_e, W_h (student
    -> teacher width) start as the embedding of the kept units, so the distillation losses start from the
    slicing error instead of from a random student.

    Args:
        teacher: a BERT-family model (`BertModel`, `BertFor...` or TinyBERT) at least as wide and deep as the
            student, with as many heads, or its folder (or Hub id).
        student: the student's shape: a preset name (`TINYBERT_PRESETS`), a `TinyBertConfig` (its vocabulary,
            positions, token types and heads must be the teacher's; other settings such as dropout are kept),
            or `None` for the teacher's own shape with `num_layers` layers.
        layer_map: which teacher layer (1..N) each student layer comes from: `"uniform"`, `"first"`, `"last"` or
            a list (see `select_teacher_layers`).
        num_layers: the student's number of layers; default: the preset's or config's, or `len(layer_map)` for
            explicit layers. Needed with `student=None` and a strategy name.
        head: the student's head, a key of `HEADS`; default: the teacher's.

    Returns:
        `(student, projections)`: a `TinyBertPreTrainedModel` in eval mode with `fit_size` = the teacher's width,
        and `HiddenProjections(mode="separate")` tensors (`embeddings.*`, `hidden.*`; the identity at full width).

    Raises:
        ValueError: an unknown head or layer choice, a non-BERT teacher, or a student that is wider than the
            teacher or differs from it in vocabulary, positions, token types or number of heads.
    """
    if head is not None and head not in HEADS:
        raise ValueError(f"Unknown head {head!r}; valid heads are: {', '.join(HEADS)}")
    if isinstance(teacher, (str, os.PathLike)):
        teacher = load_bert_family_model(teacher)
    teacher_head = bert_head_of(teacher)
    spec = HEADS[head] if head else teacher_head
    t = teacher.config
    if student is None:
        config = TinyBertConfig(**bert_config_kwargs(t.to_dict()))
    elif isinstance(student, str):
        config = TinyBertConfig.from_preset(student, t, id2label=t.id2label, label2id=t.label2id)
    else:
        config = copy.deepcopy(student)  # the model keeps (and changes) its config
    if student is not None:
        if num_layers not in (None, config.num_hidden_layers):
            raise ValueError(f"num_layers={num_layers} but the student has {config.num_hidden_layers} layers")
        num_layers = config.num_hidden_layers
    layers = select_teacher_layers(layer_map, t.num_hidden_layers, num_layers)
    config.num_hidden_layers, config.fit_size = len(layers), t.hidden_size
    _check_fits(config, t)

    t_head, s_head = t.hidden_size // t.num_attention_heads, config.hidden_size // config.num_attention_heads
    keep = {
        "hidden": torch.arange(config.hidden_size),
        "heads": torch.tensor([h * t_head + j for h in range(config.num_attention_heads) for j in range(s_head)]),
        "ffn": torch.arange(config.intermediate_size),
    }
    model = spec.tinybert_class(config)
    source, state = teacher.base_model.state_dict(), model.base_model.state_dict()
    for name, own in state.items():
        key = re.sub(r"^encoder\.layer\.(\d+)\.", lambda m: f"encoder.layer.{layers[int(m[1])] - 1}.", name)
        if key in source:  # else (e.g. a teacher without pooler) the student keeps its own initialisation
            state[name] = _slice(name, source[key], keep)
            if state[name].shape != own.shape:
                raise ValueError(f"Slicing {key} gave {tuple(state[name].shape)}, the student needs {tuple(own.shape)}")
    model.base_model.load_state_dict(state)
    if spec == teacher_head and spec.module is not None:
        _copy_head(getattr(model, spec.module), getattr(teacher, spec.module), spec.module)
    elif spec.module is not None:
        logger.info(f"The teacher has no {spec.name!r} head: the student's head is newly initialised.")
    logger.info(f"Initialised a {len(layers)}-layer, {config.hidden_size}-wide student from teacher layers {layers}")

    embedding = torch.zeros(t.hidden_size, config.hidden_size)
    embedding[keep["hidden"], torch.arange(config.hidden_size)] = 1.0
    bias = torch.zeros(t.hidden_size)
    projections = {"embeddings.weight": embedding, "embeddings.bias": bias}
    projections |= {"hidden.weight": embedding.clone(), "hidden.bias": bias.clone()}
    return model.eval(), projections


def _check_fits(config: TinyBertConfig, t) -> None:
    same = ("vocab_size", "max_position_embeddings", "type_vocab_size", "num_attention_heads")
    problems = [f"{f}={getattr(t, f)} vs {f}={getattr(config, f)}" for f in same if getattr(config, f) != getattr(t, f)]
    problems += [
        f"{f}={getattr(t, f)} vs {f}={getattr(config, f)} (wider than the teacher)"
        for f in ("hidden_size", "intermediate_size")
        if getattr(config, f) > getattr(t, f)
    ]
    if problems:
        raise ValueError(
            f"Cannot slice the student out of the teacher (teacher vs student): {'; '.join(problems)}. A student "
            "initialised from a teacher uses its vocabulary, positions, token types and number of heads and is at "
            "most as wide; train any other student from random weights with general distillation instead."
        )


# (part of a weight's name, kept rows, kept columns); anything else (LayerNorms, pooler) keeps hidden x hidden
_SLICES = (
    (".attention.self.", "heads", "hidden"),
    (".attention.output.dense.", "hidden", "heads"),
    (".intermediate.dense.", "ffn", "hidden"),
    (".output.dense.", "hidden", "ffn"),
)


def _slice(name: str, weight: torch.Tensor, keep: dict[str, torch.Tensor]) -> torch.Tensor:
    """The kept rows and columns of one base-model weight (`name` in the student's naming)."""
    if name.startswith("embeddings.") and name.endswith("_embeddings.weight"):
        rows, cols = None, "hidden"  # (vocabulary or positions, hidden)
    else:
        rows, cols = next(((r, c) for part, r, c in _SLICES if part in name), ("hidden", "hidden"))
    if rows is not None:
        weight = weight.index_select(0, keep[rows])
    if weight.dim() == 2:
        weight = weight.index_select(1, keep[cols])
    return weight.clone()


def _copy_head(student: nn.Module, teacher: nn.Module, module: str) -> None:
    t_state, s_state = teacher.state_dict(), student.state_dict()
    mismatched = [
        f"{module}.{k}: teacher {tuple(v.shape)}, student {tuple(s_state[k].shape)}"
        for k, v in t_state.items()
        if k in s_state and v.shape != s_state[k].shape
    ]
    if mismatched:
        logger.warning(f"Head shapes differ, so the student's head is newly initialised: {'; '.join(mismatched)}")
        return
    # a masked-LM decoder is tied to the (already copied) word embeddings
    student.load_state_dict({k: v for k, v in t_state.items() if k != "predictions.decoder.weight"}, strict=False)
