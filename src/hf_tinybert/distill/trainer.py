"""`DistillationTrainer`: TinyBERT distillation as a `transformers.Trainer` with narrow overrides.

The walk of one batch: `compute_loss` runs the student with forward hooks on the mapped modules, runs the
teacher under `no_grad` with the same kind of hooks, turns the captured pairs into embedding / attention /
hidden / prediction losses (`losses.py`), weights them and returns one scalar. Everything else (the loop,
gradient accumulation, mixed precision, DDP, checkpointing, logging, evaluation) is `Trainer`'s.

Overrides: `compute_loss` (the losses), `create_optimizer` (adds the projections' parameters), `_save` and
`_load_from_checkpoint` (the projections file beside the student), `_set_signature_columns_if_needed` (keeps
the columns the teacher needs), `log` (adds the loss components).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections import defaultdict

import torch
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging

from . import losses
from .arguments import DistillationArguments
from .capture import CapturedActivations, LayerCapture, find_bert_encoder
from .mapping import build_layer_map
from .projections import HiddenProjections

logger = logging.get_logger(__name__)

# Kind of prediction head -> Auto class used to load a teacher given as a path.
HEAD_AUTO_CLASSES = {
    "sequence_classification": AutoModelForSequenceClassification,
    "question_answering": AutoModelForQuestionAnswering,
    "token_classification": AutoModelForTokenClassification,
    "masked_lm": AutoModelForMaskedLM,
    "base": AutoModel,
}
_HEAD_SUFFIXES = {
    "ForSequenceClassification": "sequence_classification",
    "ForQuestionAnswering": "question_answering",
    "ForTokenClassification": "token_classification",
    "ForMaskedLM": "masked_lm",
}
# Model inputs both models take from the batch; labels go to the student only.
_LABEL_COLUMNS = ("labels", "label", "label_ids", "start_positions", "end_positions")


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP (`.module`) and peft (`get_base_model()`) wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def head_kind(model: nn.Module) -> str:
    """'sequence_classification', 'question_answering', 'token_classification', 'masked_lm' or 'base', from the
    model's class or the first base class named like a transformers head (`...ForSequenceClassification`)."""
    for cls in type(unwrap(model)).__mro__:
        for suffix, kind in _HEAD_SUFFIXES.items():
            if cls.__name__.endswith(suffix):
                return kind
    return "base"


def _informative_labels(config) -> list[str] | None:
    id2label = getattr(config, "id2label", None) or {}
    labels = [str(id2label[i]) for i in sorted(id2label, key=int)]
    if not labels or all(label == f"LABEL_{i}" for i, label in enumerate(labels)):
        return None
    return labels


class DistillationTrainer(Trainer):
    """A `Trainer` that distils `teacher_model` into `model` with TinyBERT's losses.

    Args:
        model: the student (a `TinyBert*` model or any BERT-style model, possibly peft-wrapped).
        args: `DistillationArguments` (stage, layer map, loss weights, temperature, ...).
        teacher_model: the teacher, a model or a path/Hub id. A path is loaded with the Auto class matching the
            student's head (e.g. `AutoModelForSequenceClassification`) when the stage uses logits, else `AutoModel`.
        teacher_processing_class: the teacher's tokenizer, compared with the student's (`processing_class`); loaded
            from `teacher_model` when that is a path holding one.
        **kwargs: everything `Trainer` takes (`train_dataset`, `eval_dataset`, `data_collator`,
            `processing_class`, `compute_metrics`, `callbacks`, ...).

    Raises:
        ValueError: before training, on an impossible layer map, different vocabularies or tokenizers, different head
            counts (without `attention_head_average`), a logits stage with a teacher that has no task head, or
            different label counts or label orders.
    """

    # compute_loss returns a per-batch mean: let Trainer divide it by the gradient accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model: PreTrainedModel | nn.Module | None = None,
        args: DistillationArguments | None = None,
        *,
        teacher_model: PreTrainedModel | nn.Module | str,
        teacher_processing_class=None,
        **kwargs,
    ):
        if model is None:
            raise ValueError("DistillationTrainer needs a student `model`")
        if args is None:
            args = DistillationArguments(output_dir="tmp_trainer")
        if not isinstance(args, DistillationArguments):
            if isinstance(args, TrainingArguments):
                raise ValueError(
                    "DistillationTrainer needs DistillationArguments (a TrainingArguments subclass with the distillation "
                    f"settings), got {type(args).__name__}"
                )
            raise ValueError(f"args must be DistillationArguments, got {type(args).__name__}")
        self.loss_weights = args.loss_weights()
        self.uses_layers = any(name in self.loss_weights for name in ("emb", "att", "hidden"))
        self.uses_logits = "pred" in self.loss_weights

        if isinstance(teacher_model, (str, os.PathLike)):
            teacher_path = os.fspath(teacher_model)
            auto_class = HEAD_AUTO_CLASSES[head_kind(model)] if self.uses_logits else AutoModel
            teacher_model = auto_class.from_pretrained(teacher_path)
            if teacher_processing_class is None:
                with contextlib.suppress(Exception):
                    teacher_processing_class = AutoTokenizer.from_pretrained(teacher_path)
        self.teacher = teacher_model
        self._check_compatibility(model, self.teacher, args, kwargs.get("processing_class"), teacher_processing_class)

        student_config, teacher_config = unwrap(model).config, unwrap(self.teacher).config
        self.layer_map = build_layer_map(
            student_config.num_hidden_layers, teacher_config.num_hidden_layers, args.layer_map
        )
        self.projections = HiddenProjections(
            student_config.hidden_size,
            teacher_config.hidden_size,
            student_config.num_hidden_layers,
            mode=args.projection,
            initializer_range=getattr(student_config, "initializer_range", 0.02),
            embeddings="emb" in self.loss_weights,
            hidden_states="hidden" in self.loss_weights,
        )
        student_path = getattr(unwrap(model), "name_or_path", "") or ""
        if args.load_projections and os.path.isdir(student_path):
            self.projections.load(student_path)

        super().__init__(model=model, args=args, **kwargs)
        # Evaluation computes the distillation loss even for label-free stages (general distillation).
        self.can_return_loss = True
        self._component_sums: dict[str, dict[str, torch.Tensor]] = {"train": {}, "eval": {}}
        self._component_counts: dict[str, int] = defaultdict(int)

        self.teacher.eval()
        self.teacher.requires_grad_(False)
        if args.teacher_dtype != "auto":
            self.teacher.to(getattr(torch, args.teacher_dtype))
        self.teacher.to(self.args.device)
        self.projections.to(self.args.device)
        self._teacher_inputs = self._forward_parameters(self.teacher)

    # ---- checks done before any training ----

    @staticmethod
    def _check_compatibility(student, teacher, args, student_tokenizer, teacher_tokenizer) -> None:
        s_config, t_config = unwrap(student).config, unwrap(teacher).config
        if s_config.vocab_size != t_config.vocab_size:
            raise ValueError(
                f"Teacher and student vocabularies differ: student vocab_size={s_config.vocab_size}, teacher "
                f"vocab_size={t_config.vocab_size}. Both models must read the same token ids (same tokenizer)."
            )
        if student_tokenizer is not None and teacher_tokenizer is not None:
            s_vocab, t_vocab = student_tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
            if s_vocab != t_vocab:
                differing = sorted(set(s_vocab.items()) ^ set(t_vocab.items()), key=lambda item: item[1])[:5]
                raise ValueError(
                    f"Teacher and student tokenizers differ: student {type(student_tokenizer).__name__} with "
                    f"{len(s_vocab)} tokens, teacher {type(teacher_tokenizer).__name__} with {len(t_vocab)} tokens; "
                    f"first differing (token, id) pairs: {differing}"
                )
        if s_config.max_position_embeddings > t_config.max_position_embeddings:
            logger.warning(
                f"The student accepts {s_config.max_position_embeddings} positions but the teacher only "
                f"{t_config.max_position_embeddings}: keep max_seq_length within the teacher's limit"
            )
        weights = args.loss_weights()
        if "emb" in weights or "att" in weights or "hidden" in weights:
            find_bert_encoder(student)
            find_bert_encoder(teacher)
        if (
            "att" in weights
            and s_config.num_attention_heads != t_config.num_attention_heads
            and not args.attention_head_average
        ):
            raise ValueError(
                f"The attention loss compares heads one to one, but the student has {s_config.num_attention_heads} "
                f"heads and the teacher {t_config.num_attention_heads}. Set attention_head_average=True to compare "
                "head-averaged maps, or attention_loss_weight=0."
            )
        if "pred" in weights:
            s_kind, t_kind = head_kind(student), head_kind(teacher)
            if s_kind == "base":
                raise ValueError(
                    f"Stage {args.stage!r} distils logits but the student {type(unwrap(student)).__name__} has no "
                    "task head; use e.g. TinyBertForSequenceClassification, or stage='general'/'intermediate'."
                )
            if t_kind != s_kind:
                raise ValueError(
                    f"Stage {args.stage!r} distils logits but the teacher {type(unwrap(teacher)).__name__} has "
                    f"{'no task head' if t_kind == 'base' else f'a {t_kind} head'} and the student "
                    f"{type(unwrap(student)).__name__} a {s_kind} head. Load the teacher with its fine-tuned head."
                )
            if s_kind in ("sequence_classification", "token_classification"):
                if s_config.num_labels != t_config.num_labels:
                    raise ValueError(
                        f"Label counts differ: student num_labels={s_config.num_labels}, teacher "
                        f"num_labels={t_config.num_labels}"
                    )
                s_labels, t_labels = _informative_labels(s_config), _informative_labels(t_config)
                if s_labels and t_labels and s_labels != t_labels:
                    raise ValueError(f"Label orders differ: student id2label {s_labels}, teacher id2label {t_labels}")

    @staticmethod
    def _forward_parameters(model: nn.Module) -> set[str]:
        return set(inspect.signature(unwrap(model).forward).parameters) - {"kwargs", "args"}

    def _set_signature_columns_if_needed(self) -> None:
        # Keep the columns the teacher reads too, so nothing it needs is silently dropped.
        super()._set_signature_columns_if_needed()
        extra = self._forward_parameters(self.teacher) - set(self._signature_columns)
        self._signature_columns += sorted(extra)

    # ---- the loss ----

    def _capture(self, model: nn.Module, layers: list[int]):
        if not self.uses_layers:
            return contextlib.nullcontext(CapturedActivations())
        return LayerCapture(
            model,
            layers,
            embeddings="emb" in self.loss_weights,
            hidden_states="hidden" in self.loss_weights,
            attention="att" in self.loss_weights,
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        student_config, teacher_config = unwrap(model).config, unwrap(self.teacher).config
        student_inputs = {k: v for k, v in inputs.items() if k not in self._teacher_only_columns(model)}
        teacher_inputs = {k: v for k, v in inputs.items() if k in self._teacher_inputs and k not in _LABEL_COLUMNS}
        attention_mask = inputs.get("attention_mask")
        padding_mask = attention_mask if self.args.mask_padding else None

        student_layers = list(range(1, student_config.num_hidden_layers + 1))
        with self._capture(model, student_layers) as student_acts:
            outputs = model(**student_inputs)
        if self.teacher.training:
            self.teacher.eval()
        with torch.no_grad(), self._capture(self.teacher, self.layer_map) as teacher_acts:
            teacher_outputs = self.teacher(**teacher_inputs)

        components: dict[str, torch.Tensor] = {}
        if "emb" in self.loss_weights or "hidden" in self.loss_weights:
            embeddings, hidden_states = self.projections(student_acts.embeddings, student_acts.hidden_states)
            if "emb" in self.loss_weights:
                components["emb"] = losses.masked_mse(embeddings, teacher_acts.embeddings, padding_mask)
            if "hidden" in self.loss_weights:
                components["hidden"] = sum(
                    losses.masked_mse(hidden_states[m], teacher_acts.hidden_states[n], padding_mask)
                    for m, n in zip(student_layers, self.layer_map)
                )
        if "att" in self.loss_weights:
            components["att"] = sum(
                self._attention_loss(student_acts, teacher_acts, m, n, attention_mask, student_config, teacher_config)
                for m, n in zip(student_layers, self.layer_map)
            )
        if "pred" in self.loss_weights:
            components["pred"] = self._prediction_loss(model, outputs, teacher_outputs, inputs)
        if self.args.hard_label_loss_weight > 0:
            student_loss = outputs.get("loss") if isinstance(outputs, dict) else None
            if student_loss is None:
                raise ValueError(
                    "hard_label_loss_weight > 0 but the student returned no loss: the batch has no labels "
                    f"(columns: {sorted(inputs)})"
                )
            components["hard"] = student_loss

        weights = {**self.loss_weights, "hard": self.args.hard_label_loss_weight}
        loss = sum(weights[name] * value for name, value in components.items())
        self._record_components(components, "train" if model.training else "eval")
        return (loss, outputs) if return_outputs else loss

    def _teacher_only_columns(self, model) -> set[str]:
        student_inputs = self._forward_parameters(model)
        return {name for name in self._teacher_inputs if name not in student_inputs}

    def _attention_loss(self, student_acts, teacher_acts, m, n, attention_mask, student_config, teacher_config):
        mask_queries = self.args.mask_padding
        sq, sk = student_acts.queries[m], student_acts.keys[m]
        tq, tk = teacher_acts.queries[n], teacher_acts.keys[n]
        s_heads, t_heads = student_config.num_attention_heads, teacher_config.num_attention_heads
        if self.args.attention_loss == "probs_kl":
            return losses.attention_probability_kl(
                sq, sk, tq, tk, s_heads, attention_mask, self.args.attention_head_average, t_heads
            )
        if self.args.attention_head_average:
            return losses.attention_score_mse_head_average(
                sq, sk, tq, tk, s_heads, t_heads, attention_mask, mask_queries
            )
        return losses.attention_score_mse(sq, sk, tq, tk, s_heads, attention_mask, mask_queries)

    def _prediction_loss(self, model, outputs, teacher_outputs, inputs) -> torch.Tensor:
        kind = head_kind(model)
        t, t2 = self.args.temperature, self.args.scale_loss_by_t2
        if kind == "question_answering":
            return losses.span_soft_cross_entropy(
                outputs["start_logits"],
                outputs["end_logits"],
                teacher_outputs["start_logits"],
                teacher_outputs["end_logits"],
                t,
                t2,
                inputs.get("attention_mask"),
            )
        student_logits, teacher_logits = outputs["logits"], teacher_outputs["logits"]
        if kind == "sequence_classification" and student_logits.shape[-1] == 1:
            return losses.regression_mse(student_logits, teacher_logits)
        mask = None
        if kind == "token_classification":
            mask = inputs.get("attention_mask")
        elif kind == "masked_lm":
            labels = inputs.get("labels")
            mask = (labels != -100) if labels is not None else inputs.get("attention_mask")
        return losses.soft_cross_entropy(student_logits, teacher_logits, t, t2, mask)

    # ---- logging of the components ----

    def _record_components(self, components: dict[str, torch.Tensor], mode: str) -> None:
        sums = self._component_sums[mode]
        for name, value in components.items():
            value = value.detach().float()
            sums[name] = sums[name] + value if name in sums else value
        self._component_counts[mode] += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        eval_key = next((k for k in logs if k.endswith("_loss") and k != "train_loss"), None)
        mode = "train" if "loss" in logs else "eval" if eval_key else None
        if mode is not None and self._component_counts[mode]:
            prefix = "" if mode == "train" else eval_key[: -len("loss")]
            count = self._component_counts[mode]
            for name, total in self._component_sums[mode].items():
                mean = total / count
                if self.accelerator.num_processes > 1:
                    mean = self.accelerator.reduce(mean, reduction="mean")
                logs[f"{prefix}loss_{name}"] = round(mean.item(), 6)
            self._component_sums[mode] = {}
            self._component_counts[mode] = 0
        super().log(logs, start_time)

    # ---- the projections: trained by the same optimizer, saved beside the student ----

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        params = list(self.projections.named_parameters())
        if params and not getattr(optimizer, "_distill_projections_added", False):
            decay = [p for name, p in params if name.endswith("weight")]
            no_decay = [p for name, p in params if not name.endswith("weight")]
            optimizer.add_param_group({"params": decay, "weight_decay": self.args.weight_decay})
            optimizer.add_param_group({"params": no_decay, "weight_decay": 0.0})
            # Trainer zeroes gradients with `model.zero_grad()`, which does not reach the projections.
            optimizer.register_step_post_hook(lambda *_: self.projections.zero_grad(set_to_none=True))
            optimizer._distill_projections_added = True
        return optimizer

    def _clip_grad_norm(self, model):
        # Clip the student and the projections together, as one model (the official code's BertAdam does).
        extra = [p for p in self.projections.parameters() if p.grad is not None]
        if not extra or self.is_fsdp_enabled or self.is_deepspeed_enabled or self._has_mixed_mesh_grads(model):
            return super()._clip_grad_norm(model)
        return self.accelerator.clip_grad_norm_([*model.parameters(), *extra], self.args.max_grad_norm)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            self.projections.save(output_dir if output_dir is not None else self.args.output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        self.projections.load(resume_from_checkpoint)
