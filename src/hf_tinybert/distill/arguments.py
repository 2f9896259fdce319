"""`DistillationArguments`: `TrainingArguments` plus TinyBERT's distillation knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..modeling.layer_map import LAYER_MAP_PRESETS
from ..precision import TEACHER_DTYPE, PrecisionArguments

STAGES = ("general", "intermediate", "prediction", "joint")
# Which loss components each stage computes (the hard-label loss is added wherever its weight is > 0).
STAGE_COMPONENTS: dict[str, tuple[str, ...]] = {
    "general": ("emb", "att", "hidden"),
    "intermediate": ("emb", "att", "hidden"),
    "prediction": ("pred",),
    "joint": ("emb", "att", "hidden", "pred"),
}
PROJECTIONS = ("separate", "shared", "per_layer")
ATTENTION_LOSSES = ("scores_mse", "probs_kl")
TEACHER_DTYPES = ("auto", "float32", "bfloat16", "float16")
EQUAL_WIDTH_PROJECTIONS = ("auto", "identity", "learned")


@dataclass
class DistillationArguments(PrecisionArguments):
    """Training arguments for `DistillationTrainer`: every `TrainingArguments` field plus the fields below.

    Defaults follow the TinyBERT paper (Jiao et al., 2020); the official code's behaviour is available where it
    differs (`projection="shared"`, `mask_padding=False`).
    """

    stage: str = field(
        default="joint",
        metadata={
            "help": "What to distil. 'general': embeddings, attention and hidden states, no labels needed (stage 1 "
            "on a text corpus); 'intermediate': the same on task data (stage 2, step 1); 'prediction': the "
            "logits only (stage 2, step 2); 'joint': all four losses at once.",
            "choices": list(STAGES),
        },
    )
    layer_map: str = field(
        default="uniform",
        metadata={
            "help": "Which teacher layer teaches each student layer: 'uniform' (paper: 4 of 12 -> 3,6,9,12), "
            "'last', 'first', or a comma-separated list of teacher layers (1-based), one per student layer. "
            "Embeddings always learn from embeddings."
        },
    )
    embedding_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the embedding-layer MSE."})
    attention_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the attention loss."})
    hidden_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the hidden-state MSE."})
    prediction_loss_weight: float = field(
        default=1.0,
        metadata={"help": "Weight of the prediction-layer loss (soft cross-entropy, or MSE for regression)."},
    )
    hard_label_loss_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of the student's own loss on the gold labels (the task loss, or the masked-LM loss when "
            "the student is a masked LM and the collator masks tokens). The paper uses none (0)."
        },
    )
    temperature: float = field(
        default=1.0, metadata={"help": "Softmax temperature t of the prediction loss (paper: 1)."}
    )
    scale_loss_by_t2: bool = field(
        default=False,
        metadata={"help": "Multiply the prediction loss by t² (Hinton et al.); off in the paper and code."},
    )
    projection: str = field(
        default="separate",
        metadata={
            "help": "Learnable maps from the student's to the teacher's hidden size, used when they differ. "
            "'separate': one for the embeddings (W_e) and one for all layers (W_h), as in the paper; "
            "'shared': a single map for both (the official code's fit_dense); 'per_layer': one for the "
            "embeddings and one per student layer (the released v2 checkpoints' fit_denses).",
            "choices": list(PROJECTIONS),
        },
    )
    attention_loss: str = field(
        default="scores_mse",
        metadata={
            "help": "'scores_mse': MSE on pre-softmax scores QKᵀ/√d (the paper); 'probs_kl': KL divergence between "
            "attention probabilities (MiniLM-style).",
            "choices": list(ATTENTION_LOSSES),
        },
    )
    attention_head_average: bool = field(
        default=False,
        metadata={
            "help": "Compare head-averaged attention maps, so teacher and student may have different numbers of "
            "heads. Off by default: different head counts are then an error."
        },
    )
    mask_padding: bool = field(
        default=True,
        metadata={
            "help": "Leave padded positions out of the hidden-state and attention losses. False reproduces the "
            "official code: every position counts in the hidden MSE and padded query rows count in the attention MSE; "
            "like the official code it needs every batch padded to max_seq_length (the stages do that; the trainer "
            "refuses batches of different lengths)."
        },
    )
    teacher_dtype: str = field(
        default="auto",
        metadata={
            "help": "Precision of the teacher's forward: 'auto' follows --precision when that is set (bf16 -> "
            "bfloat16 weights) and otherwise keeps the teacher's weights as loaded; 'bfloat16' or 'float16' halve "
            "its memory and time where the device has fast bf16/fp16.",
            "choices": list(TEACHER_DTYPES),
        },
    )
    equal_width_projection: str = field(
        default="auto",
        metadata={
            "help": "When the student and the teacher have the same hidden size: 'identity' (nothing to learn), "
            "'learned' (a trained d x d map, as the official code's fit_dense always is), or 'auto': learned when "
            "the student's folder has distill_projections.safetensors (e.g. a converted TinyBERT-6L-768 checkpoint), "
            "else the identity.",
            "choices": list(EQUAL_WIDTH_PROJECTIONS),
        },
    )
    check_capture: bool = field(
        default=True,
        metadata={
            "help": "On the first training batch, compare the captured hidden states and attention scores of both "
            "models with what each model itself reports (output_hidden_states, and eager attention weights), and "
            "stop with a clear error on any disagreement instead of training on wrong targets (a few extra "
            "forwards, once)."
        },
    )
    load_projections: bool = field(
        default=True,
        metadata={
            "help": "Initialise the projections from `distill_projections.safetensors` in the student's folder when "
            "present (written by an earlier distillation run or by `hf-tinybert convert`)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.precision is not None and self.teacher_dtype == "auto":
            self.teacher_dtype = TEACHER_DTYPE["bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"]
        if self.stage not in STAGES:
            raise ValueError(f"Unknown stage {self.stage!r}; valid stages are: {', '.join(STAGES)}")
        if self.projection not in PROJECTIONS:
            raise ValueError(f"Unknown projection {self.projection!r}; valid values are: {', '.join(PROJECTIONS)}")
        if self.attention_loss not in ATTENTION_LOSSES:
            raise ValueError(
                f"Unknown attention_loss {self.attention_loss!r}; valid values are: {', '.join(ATTENTION_LOSSES)}"
            )
        if self.teacher_dtype not in TEACHER_DTYPES:
            raise ValueError(
                f"Unknown teacher_dtype {self.teacher_dtype!r}; valid values are: {', '.join(TEACHER_DTYPES)}"
            )
        if self.equal_width_projection not in EQUAL_WIDTH_PROJECTIONS:
            raise ValueError(
                f"Unknown equal_width_projection {self.equal_width_projection!r}; valid values are: "
                f"{', '.join(EQUAL_WIDTH_PROJECTIONS)}"
            )
        if not isinstance(self.layer_map, str) or not self.layer_map.strip():
            raise ValueError(f"layer_map must be one of {', '.join(LAYER_MAP_PRESETS)} or a comma-separated list")
        for name in ("embedding", "attention", "hidden", "prediction", "hard_label"):
            weight = getattr(self, f"{name}_loss_weight")
            if weight < 0:
                raise ValueError(f"{name}_loss_weight must be >= 0, got {weight}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.loss_weights() and self.hard_label_loss_weight == 0:
            raise ValueError(
                f"Stage {self.stage!r} computes {', '.join(STAGE_COMPONENTS[self.stage])} but all their weights are 0 "
                "and hard_label_loss_weight is 0: nothing to train"
            )
        if self.activation_checkpointing:
            # Reentrant checkpointing runs the layers under no_grad, so the hooked tensors would carry no
            # gradient and the layer-wise losses would silently not train the student.
            kwargs = dict(self.activation_checkpointing_kwargs or {})
            if kwargs.get("use_reentrant", False):
                raise ValueError(
                    "activation_checkpointing_kwargs={'use_reentrant': True} is not supported by DistillationTrainer: "
                    "its hooked activations need non-reentrant checkpointing (use_reentrant=False)"
                )
            kwargs["use_reentrant"] = False
            self.activation_checkpointing_kwargs = self.gradient_checkpointing_kwargs = kwargs

    def loss_weights(self) -> dict[str, float]:
        """The weighted components of this stage, e.g. {'emb': 1.0, 'att': 1.0, 'hidden': 1.0}; zero weights dropped."""
        weights = {
            "emb": self.embedding_loss_weight,
            "att": self.attention_loss_weight,
            "hidden": self.hidden_loss_weight,
            "pred": self.prediction_loss_weight,
        }
        return {name: weights[name] for name in STAGE_COMPONENTS[self.stage] if weights[name] > 0}
