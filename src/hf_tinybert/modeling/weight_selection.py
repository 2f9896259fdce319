"""Weight selection: a narrower, shallower student cut out of a pre-trained teacher (Xu et al., 2024).

TinyBERT's general distillation starts from random weights and needs hours on GPUs before a 4-layer student
can learn a task. On a CPU budget a student that starts as a slice of the teacher (its first hidden units,
the first dimensions of each head, a uniform choice of layers) learns within minutes; the demo and
`benchmarks/reproduce_glue.py` start from such a slice, and the docs say so wherever they report results.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from .layer_map import build_layer_map
from .configuration_tinybert import TinyBertConfig
from .modeling_tinybert import TinyBertModel

__all__ = ["save_sliced_student", "select_student_weights"]


def select_student_weights(teacher, student="tinybert-4l-312d", layer_map: str = "uniform"):
    """A narrower student whose weights are a slice of the teacher's ("weight selection", Xu et al., 2024).

    Student layer m starts as teacher layer g(m) of `layer_map` (as in distillation); every weight keeps the
    teacher's first `hidden_size` hidden units, the first `head_size` dimensions of each attention head and the
    first `intermediate_size` feed-forward units. The projections W_e, W_h (student -> teacher width) start as the
    matching embedding of the kept units, so the distillation losses start from the slicing error instead of
    from a random student. A random 4-layer student needs hours of general distillation before it can learn a
    task (measured for this demo: after 600 task-distillation steps it was still at chance); the slice learns
    the BBC topics in a few dozen steps (`hf_tinybert.demo`).

    Args:
        teacher: a BERT-family encoder (`BertModel`) at least as wide and deep as the student, with as many heads.
        student: the student's shape: a preset name (`TINYBERT_PRESETS`) or a `TinyBertConfig` (its vocabulary,
            positions and token types must be the teacher's).
        layer_map: which teacher layer each student layer comes from (`"uniform"`, `"first"`, `"last"` or a list).

    Returns:
        `(student, projections)`: a `TinyBertModel` and `{name: tensor}` in the "separate" layout of
        `distill_projections.safetensors` (`embeddings.weight`, `embeddings.bias`, `hidden.weight`, `hidden.bias`).

    Raises:
        ValueError: the teacher is narrower, shallower or has another number of heads (or another vocabulary)
            than the student.
    """
    t = teacher.config
    if isinstance(student, str):
        config = TinyBertConfig.from_preset(
            student,
            vocab_size=t.vocab_size,
            max_position_embeddings=t.max_position_embeddings,
            type_vocab_size=t.type_vocab_size,
            pad_token_id=t.pad_token_id,
            fit_size=t.hidden_size,
        )
    else:
        config = student
    if (
        (config.vocab_size, config.max_position_embeddings, config.type_vocab_size)
        != (t.vocab_size, t.max_position_embeddings, t.type_vocab_size)
        or config.hidden_size > t.hidden_size
        or config.intermediate_size > t.intermediate_size
        or config.num_hidden_layers > t.num_hidden_layers
        or config.num_attention_heads != t.num_attention_heads
    ):
        raise ValueError(
            f"Cannot slice a student (hidden {config.hidden_size}, FFN {config.intermediate_size}, "
            f"{config.num_hidden_layers} layers, {config.num_attention_heads} heads, vocabulary {config.vocab_size}) "
            f"out of a teacher with hidden {t.hidden_size}, FFN {t.intermediate_size}, {t.num_hidden_layers} layers, "
            f"{t.num_attention_heads} heads, vocabulary {t.vocab_size}: the student must be at most as large, with "
            "the same heads, vocabulary, positions and token types"
        )
    layers = build_layer_map(config.num_hidden_layers, t.num_hidden_layers, layer_map)
    teacher_head = t.hidden_size // t.num_attention_heads
    student_head = config.hidden_size // config.num_attention_heads
    hidden = torch.arange(config.hidden_size)
    heads = torch.tensor([h * teacher_head + j for h in range(config.num_attention_heads) for j in range(student_head)])
    ffn = torch.arange(config.intermediate_size)

    def slice_of(weight: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None = None) -> torch.Tensor:
        if rows is not None:
            weight = weight.index_select(0, rows)
        if cols is not None and weight.dim() == 2:
            weight = weight.index_select(1, cols)
        return weight.clone()

    source = teacher.state_dict()
    model = TinyBertModel(config)
    state = {}
    for name, own in model.state_dict().items():
        key = name
        if name.startswith("encoder.layer."):
            index = int(name.split(".")[2])
            key = name.replace(f"encoder.layer.{index}.", f"encoder.layer.{layers[index] - 1}.", 1)
        if key not in source:  # e.g. a teacher without pooler: the student keeps its own initialisation
            state[name] = own
            continue
        weight = source[key]
        if name.startswith("embeddings.") and name.endswith("_embeddings.weight"):
            value = slice_of(weight, None, hidden)  # (vocabulary or positions, hidden)
        elif ".attention.self." in name:
            value = slice_of(weight, heads, hidden)
        elif ".attention.output.dense." in name:
            value = slice_of(weight, hidden, heads)
        elif ".intermediate.dense." in name:
            value = slice_of(weight, ffn, hidden)
        elif ".output.dense." in name:
            value = slice_of(weight, hidden, ffn)
        else:  # LayerNorms, pooler
            value = slice_of(weight, hidden, hidden)
        if value.shape != own.shape:
            raise ValueError(
                f"Slicing {key} of the teacher gave {tuple(value.shape)}, the student needs {tuple(own.shape)}"
            )
        state[name] = value
    model.load_state_dict(state)
    embedding = torch.zeros(t.hidden_size, config.hidden_size)
    embedding[hidden, torch.arange(config.hidden_size)] = 1.0
    bias = torch.zeros(t.hidden_size)
    projections = {
        "embeddings.weight": embedding,
        "embeddings.bias": bias,
        "hidden.weight": embedding.clone(),
        "hidden.bias": bias.clone(),
    }
    return model, projections


def save_sliced_student(
    teacher: str | os.PathLike,
    output_dir: str | os.PathLike,
    student="tinybert-4l-312d",
    layer_map: str = "uniform",
    *,
    overwrite: bool = False,
) -> Path:
    """`select_student_weights` of the teacher folder or Hub id `teacher`, saved to `output_dir` with the teacher's
    tokenizer and the projections as `distill_projections.safetensors`, ready for `general_distill` or
    `task_distill` (`student_model=output_dir`).

    Raises:
        FileExistsError: `output_dir` is not empty and `overwrite` is False.
    """
    from transformers import AutoModel, AutoTokenizer

    from ..distill.projections import PROJECTIONS_FILE

    output_dir = Path(output_dir)
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{output_dir} is not empty; pass overwrite=True (--overwrite) to replace its contents")
    model, projections = select_student_weights(AutoModel.from_pretrained(teacher), student, layer_map)
    model.save_pretrained(output_dir)
    AutoTokenizer.from_pretrained(teacher).save_pretrained(output_dir)
    save_file(projections, output_dir / PROJECTIONS_FILE, metadata={"format": "pt", "mode": "separate"})
    return output_dir
