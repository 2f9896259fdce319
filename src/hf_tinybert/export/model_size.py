"""How big a BERT-family model is: named shapes, parameter counts and an analytic FLOPs count.

Shapes let the paper's speed claim be checked on any machine without downloading weights: a model
built from `config_for_shape("bert-base")` runs exactly as fast as ``bert-base-uncased``.
"""

from __future__ import annotations

from transformers import BertConfig

from ..modeling import TINYBERT_PRESETS, TinyBertConfig

# Encoder shapes of well-known teachers; TinyBERT's own shapes come from `TINYBERT_PRESETS`.
TEACHER_SHAPES: dict[str, dict[str, int]] = {
    "bert-base": {"num_hidden_layers": 12, "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12},
    "bert-large": {"num_hidden_layers": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16},
    "minilm-l6-h384": {
        "num_hidden_layers": 6,
        "hidden_size": 384,
        "intermediate_size": 1536,
        "num_attention_heads": 12,
    },
    "minilm-l12-h384": {
        "num_hidden_layers": 12,
        "hidden_size": 384,
        "intermediate_size": 1536,
        "num_attention_heads": 12,
    },
}
MODEL_SHAPES: dict[str, dict[str, int]] = {**TEACHER_SHAPES, **TINYBERT_PRESETS}
# bert-base-uncased's vocabulary and positions, shared by every shape above.
SHAPE_DEFAULTS: dict[str, int] = {"vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}
FLOPS_TASKS: tuple[str, ...] = ("text-classification", "question-answering", "feature-extraction")


def config_for_shape(name: str, **overrides) -> BertConfig:
    """The config of a named model shape (random weights, bert-base-uncased vocabulary).

    Args:
        name: one of `MODEL_SHAPES`: ``bert-base``, ``bert-large``, ``minilm-l6-h384``, ``minilm-l12-h384``,
            ``tinybert-4l-312d``, ``tinybert-6l-768d``.
        **overrides: config fields to change (``num_labels``, ``vocab_size``, ...).

    Returns:
        A `TinyBertConfig` for TinyBERT shapes, a `BertConfig` for the others.

    Raises:
        ValueError: unknown shape name.
    """
    if name not in MODEL_SHAPES:
        raise ValueError(f"Unknown model shape {name!r}; valid shapes are: {', '.join(MODEL_SHAPES)}")
    values = {**SHAPE_DEFAULTS, **overrides}
    if name in TINYBERT_PRESETS:
        return TinyBertConfig.from_preset(name, **values)
    return BertConfig(**{**MODEL_SHAPES[name], **values})


def count_parameters(model) -> int:
    """Number of parameters of a model (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())


def encoder_flops(
    config: BertConfig,
    batch_size: int,
    seq_len: int,
    *,
    task: str = "text-classification",
    num_labels: int | None = None,
) -> int:
    """Floating-point operations of one forward pass, counted from the matrix products.

    A multiply-add counts as 2 FLOPs. Per layer and sequence of length S with hidden size H, FFN size F:
    the Q, K, V and output projections (4·S·H² multiply-adds), the attention scores QKᵀ and the weighted
    sum of V (2·S²·H), the two FFN matrices (2·S·H·F). Then the head: the pooler (H²) and classifier
    (H·num_labels) per sequence for text classification, the pooler for feature extraction, the span
    head (2·S·H) for question answering. Embedding lookups, softmax, LayerNorm, GELU and biases are
    element-wise and left out (under 1 % of the total for BERT shapes).

    Args:
        config: the model's config (`num_hidden_layers`, `hidden_size`, `intermediate_size`).
        batch_size: sequences per forward pass.
        seq_len: tokens per sequence.
        task: ``"text-classification"``, ``"question-answering"`` or ``"feature-extraction"``.
        num_labels: classes of the classifier; by default ``config.num_labels``.

    Returns:
        FLOPs of the forward pass over the whole batch.

    Raises:
        ValueError: unknown task, or a non-positive batch size or sequence length.
    """
    if task not in FLOPS_TASKS:
        raise ValueError(f"Unknown task {task!r}; valid tasks are: {', '.join(FLOPS_TASKS)}")
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}")
    h, f, s = config.hidden_size, config.intermediate_size, seq_len
    per_layer = 4 * s * h * h + 2 * s * s * h + 2 * s * h * f
    if task == "text-classification":
        head = h * h + h * (num_labels if num_labels is not None else config.num_labels)
    elif task == "question-answering":
        head = 2 * s * h
    else:
        head = h * h
    return 2 * batch_size * (config.num_hidden_layers * per_layer + head)


__all__ = ["MODEL_SHAPES", "TEACHER_SHAPES", "config_for_shape", "count_parameters", "encoder_flops"]
