"""`DistillationTrainer`: TinyBERT distillation as a `transformers.Trainer` with narrow overrides.

The walk of one batch: `compute_loss` runs the student with forward hooks on the mapped modules, runs the
teacher under `no_grad` with the same kind of hooks, turns the captured pairs into embedding / attention /
hidden / prediction losses (`losses.py`), weights them and returns one scalar. Everything else (the loop,
gradient accumulation, mixed precision, DDP, checkpointing, logging, evaluation) is `Trainer`'s.

Overrides of `Trainer`, besides `__init__` (a test compares this list with the class):

- `compute_loss`: the weighted TinyBERT losses of one batch.
- `get_batch_samples`: counts what each loss divides by over the whole accumulation window and all processes
  (`denominators.py`).
- `loss_is_scaled_for_ga`: tells `Trainer.training_step` whether that loss is already normalised over its window.
- `create_optimizer`: adds the projections' parameters.
- `_clip_grad_norm`: clips the student and the projections together.
- `_save`, `_load_from_checkpoint`: the projections file beside the student.
- `_set_signature_columns_if_needed`: keeps the columns the teacher needs.
- `log`: adds the loss components.
- `train`: under DeepSpeed, first registers the projections inside the student.
- `create_model_card`, `push_to_hub`: through the `StudentCardHooks` callback (`callbacks.py`), by default the hub's
  `ModelCardCallback`.

Several processes (`torchrun`, `accelerate launch`) are `distributed.py`'s (`DistributedMixin`): the teacher frozen
on every rank with rank 0's weights (or in an inference-only DeepSpeed ZeRO-3 engine), the projections kept
identical across ranks under DDP/FSDP and trained inside the student under DeepSpeed, the loss routed through the
student's outputs for DDP/FSDP. The loss components are averaged across ranks when logged; only the main process
writes files.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel, Trainer, TrainingArguments
from transformers.utils import logging

from ..modeling.heads import HEADS, Head, head_of
from ..modeling.layer_map import build_layer_map
from . import losses
from .arguments import DistillationArguments
from .callbacks import StudentCardHooks
from .capture import CapturedActivations, LayerCapture, attention_capture_support, check_capture, unwrap
from .denominators import WindowDenominators, count_denominators, problem_type
from .distributed import (
    DistributedMixin,
    all_reduce_sum,
    clip_by_total_norm,
    split_attached_projections,
    through_outputs,
)
from .projections import PROJECTIONS_FILE, HiddenProjections

logger = logging.get_logger(__name__)

# Model inputs both models take from the batch; labels go to the student only.
_LABEL_COLUMNS = ("labels", "label", "label_ids", "start_positions", "end_positions")


def _informative_labels(config) -> list[str] | None:
    id2label = getattr(config, "id2label", None) or {}
    labels = [str(id2label[i]) for i in sorted(id2label, key=int)]
    if not labels or all(label == f"LABEL_{i}" for i, label in enumerate(labels)):
        return None
    return labels


def _without_hidden_states(outputs):
    """A model output without the `hidden_states` the capture asked for (Trainer's evaluation would treat them as
    predictions)."""
    if not isinstance(outputs, dict) or outputs.get("hidden_states") is None:
        return outputs
    return type(outputs)(**{key: value for key, value in outputs.items() if key != "hidden_states"})


def _head(model: nn.Module) -> Head:
    """The head of a (possibly wrapped) model, from the one head table (`modeling/heads.py`)."""
    return head_of(unwrap(model))


def _logits(outputs):
    """The vocabulary or class logits of a head's outputs (`...ForPreTraining` calls its MLM logits
    `prediction_logits`)."""
    if not isinstance(outputs, dict):
        return None
    return outputs.get("logits", outputs.get("prediction_logits"))


def _fixed_length_error(what_came: str) -> ValueError:
    """`mask_padding=False` is the official code's averaging over padded positions: defined for fixed-length batches."""
    return ValueError(
        "mask_padding=False averages over padded positions too (the official code's loss), which is only defined for "
        f"batches padded to one fixed length, but {what_came}. Pad every batch to max_seq_length "
        "(DataCollatorWithPadding(tokenizer, padding='max_length', max_length=...); the hf-tinybert stages do this "
        "when mask_padding is off), or keep mask_padding=True."
    )


class DistillationTrainer(DistributedMixin, Trainer):
    """A `Trainer` that distils `teacher_model` into `model` with TinyBERT's losses.

    Args:
        model: the student (a `TinyBert*` model or any BERT-style model, possibly peft-wrapped).
        args: `DistillationArguments` (stage, layer map, loss weights, temperature, ...).
        teacher_model: the teacher, a model or a path/Hub id. A path is loaded with the Auto class matching the
            student's head (e.g. `AutoModelForSequenceClassification`) when the stage uses logits, else `AutoModel`.
        teacher_processing_class: the teacher's tokenizer, compared with the student's (`processing_class`); loaded
            from `teacher_model` when that is a path holding one.
        projections: the learnable maps W_e / W_h, built by `create_projections` (the default). Build them yourself
            when you pass `optimizers=(optimizer, lr_scheduler)`: the optimizer must hold their parameters.
        **kwargs: everything `Trainer` takes (`train_dataset`, `eval_dataset`, `data_collator`,
            `processing_class`, `compute_metrics`, `callbacks`, ...).

    Raises:
        ValueError: before training, on an impossible layer map, different vocabularies or tokenizers, different head
            counts (without `attention_head_average`), a logits stage with a teacher that has no task head, or
            different label counts or label orders.
    """

    #: Builds the card hooks of a trainer given no `StudentCardHooks` in `callbacks` (a callable taking the trainer);
    #: `import hf_tinybert` sets it to `hf_tinybert.hub.ModelCardCallback.for_trainer`. None: `Trainer`'s own
    #: `create_model_card` and `push_to_hub`.
    default_card_hooks: Callable[[DistillationTrainer], StudentCardHooks] | None = None

    def __init__(
        self,
        model: PreTrainedModel | nn.Module | None = None,
        args: DistillationArguments | None = None,
        *,
        teacher_model: PreTrainedModel | nn.Module | str,
        teacher_processing_class=None,
        projections: HiddenProjections | None = None,
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
            auto_class = (_head(model) if self.uses_logits else HEADS["base"]).auto_class
            teacher_model = auto_class.from_pretrained(teacher_path)
            if teacher_processing_class is None:
                with contextlib.suppress(Exception):
                    teacher_processing_class = AutoTokenizer.from_pretrained(teacher_path)
        self.teacher = teacher_model
        self._check_compatibility(model, self.teacher, args, kwargs.get("processing_class"), teacher_processing_class)
        self._record_fit_size(model, self.teacher)

        student_config, teacher_config = unwrap(model).config, unwrap(self.teacher).config
        self.layer_map = build_layer_map(
            student_config.num_hidden_layers, teacher_config.num_hidden_layers, args.layer_map
        )
        if projections is None:
            projections = self.create_projections(model, self.teacher, args)
        self._check_projections_fit(projections, student_config, teacher_config, args)
        self.projections = projections

        # DDP: the loss reaches every parameter reachable from the student's outputs (`through_outputs`), so DDP
        # need not search for unused ones after each forward (Trainer's default would).
        if args.ddp_find_unused_parameters is None:
            args.ddp_find_unused_parameters = False
        super().__init__(model=model, args=args, **kwargs)
        self._check_process_setup()
        self._check_user_optimizer()
        self._check_collator_pads_to_fixed_length()
        self.model_card_callback = self._card_hooks()
        # Evaluation computes the distillation loss even for label-free stages (general distillation).
        self.can_return_loss = True
        self._component_sums: dict[str, dict[str, torch.Tensor]] = {"train": {}, "eval": {}}

        self._projections_attached = False  # DeepSpeed: registered inside the student by `train`
        self._place_teacher(args.teacher_dtype)
        self.projections.to(self.args.device)
        self._teacher_inputs = self._forward_parameters(self.teacher)
        self._synchronise_projections()
        self._check_not_split_by_rank()

    # ---- the projections W_e / W_h ----

    @staticmethod
    def create_projections(student: nn.Module, teacher: nn.Module, args: DistillationArguments) -> HiddenProjections:
        """The learnable maps from the student's hidden size to the teacher's that the trainer trains beside the
        student, loaded from `distill_projections.safetensors` in the student's folder when there is one (and
        `args.load_projections`). Call it yourself to put their parameters into your own optimizer, then pass the
        result as `DistillationTrainer(..., projections=...)`.

        Equal hidden sizes: `args.equal_width_projection` decides between the identity (nothing to learn) and a
        learned d x d map (the official code's `fit_dense`, kept by converted TinyBERT-6L-768 checkpoints); `auto`
        learns one when the student's folder has a projections file and never drops its trained weights.
        """
        student_config, teacher_config = unwrap(student).config, unwrap(teacher).config
        weights = args.loss_weights()
        student_path = getattr(unwrap(student), "name_or_path", "") or ""
        saved = bool(student_path) and os.path.isfile(os.path.join(student_path, PROJECTIONS_FILE))
        equal = student_config.hidden_size == teacher_config.hidden_size
        learn = args.equal_width_projection == "learned" or (
            args.equal_width_projection == "auto" and saved and args.load_projections
        )
        projections = HiddenProjections(
            student_config.hidden_size,
            teacher_config.hidden_size,
            student_config.num_hidden_layers,
            mode=args.projection,
            initializer_range=getattr(student_config, "initializer_range", 0.02),
            embeddings="emb" in weights,
            hidden_states="hidden" in weights,
            learn_equal_width=learn,
        )
        if saved and args.load_projections:
            if projections.is_identity and equal and ("emb" in weights or "hidden" in weights):
                logger.warning(
                    f"{student_path} has trained projections ({PROJECTIONS_FILE}) but equal_width_projection="
                    f"{args.equal_width_projection!r} makes them the identity: they are not used. Set "
                    "equal_width_projection='learned' (or 'auto') to keep them."
                )
            else:
                projections.load(student_path)
        return projections

    @staticmethod
    def _check_projections_fit(projections: HiddenProjections, student_config, teacher_config, args) -> None:
        expected = (student_config.hidden_size, teacher_config.hidden_size, args.projection)
        found = (projections.student_size, projections.teacher_size, projections.mode)
        if found != expected:
            raise ValueError(
                f"The projections map {found[0]} -> {found[1]} ({found[2]!r}), but the student's hidden size is "
                f"{expected[0]}, the teacher's {expected[1]} and projection={expected[2]!r}: build them with "
                "DistillationTrainer.create_projections(student, teacher, args)"
            )

    def _check_user_optimizer(self) -> None:
        """An optimizer passed with its scheduler must already hold the projections: adding parameter groups to it
        afterwards would leave the scheduler with fewer groups than the optimizer (it fails at its first step)."""
        if self.optimizer is None or self.lr_scheduler is None:
            return
        held = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        missing = [name for name, p in self.projections.named_parameters() if id(p) not in held]
        if missing:
            raise ValueError(
                f"optimizers=(optimizer, lr_scheduler) was given, but the optimizer does not hold the distillation "
                f"projections' parameters ({', '.join(missing)}), and a scheduler built for its parameter groups "
                "cannot take more. Either pass optimizers=(optimizer, None) (the trainer adds the projections and "
                "builds the scheduler), or build them first with projections = "
                "DistillationTrainer.create_projections(student, teacher, args), include projections.parameters() "
                "in your optimizer, and pass projections=projections."
            )

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
        if "att" in weights:
            for role, model in (("student", student), ("teacher", teacher)):
                reason = attention_capture_support(model)
                if reason is not None:
                    raise ValueError(
                        f"The {role}: {reason}. Set attention_loss_weight=0 to distil its embeddings and hidden states "
                        "only (those losses support every encoder)."
                    )
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
            s_head, t_head = _head(student), _head(teacher)
            if s_head.name == "base":
                raise ValueError(
                    f"Stage {args.stage!r} distils logits but the student {type(unwrap(student)).__name__} has no "
                    "task head; use e.g. TinyBertForSequenceClassification, or stage='general'/'intermediate'."
                )
            if t_head is not s_head:
                raise ValueError(
                    f"Stage {args.stage!r} distils logits but the teacher {type(unwrap(teacher)).__name__} has "
                    f"{'no task head' if t_head.name == 'base' else f'a {t_head.name} head'} and the student "
                    f"{type(unwrap(student)).__name__} a {s_head.name} head. Load the teacher with its fine-tuned head."
                )
            if s_head.uses_labels:
                if s_config.num_labels != t_config.num_labels:
                    raise ValueError(
                        f"Label counts differ: student num_labels={s_config.num_labels}, teacher "
                        f"num_labels={t_config.num_labels}"
                    )
                s_labels, t_labels = _informative_labels(s_config), _informative_labels(t_config)
                if s_labels and t_labels and s_labels != t_labels:
                    raise ValueError(f"Label orders differ: student id2label {s_labels}, teacher id2label {t_labels}")

    @staticmethod
    def _record_fit_size(student, teacher) -> None:
        """A TinyBERT student's `fit_size` records the hidden size of the teacher it is distilled from; the
        projections map to this teacher's hidden size, so a student made for another width is told so (a warning,
        before training) and its config records this teacher's size from now on (the saved projections map to it)."""
        config, width = unwrap(student).config, unwrap(teacher).config.hidden_size
        fit_size = getattr(config, "fit_size", None)
        if fit_size is None or fit_size == width:
            return
        logger.warning(
            f"The student's config has fit_size={fit_size} (the teacher width it was made for), but this teacher's "
            f"hidden size is {width}: the projections map the student's hidden size {config.hidden_size} to {width}, "
            f"and the student's config now records fit_size={width}."
        )
        config.fit_size = width

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

    # ---- what each loss divides by: counted over the accumulation window and all processes ----

    @property
    def loss_is_scaled_for_ga(self) -> bool:
        """Read by `Trainer.training_step`: True when the last training loss was normalised over its whole window (it
        then must not be divided by the accumulation steps again), False for a per-batch mean."""
        return getattr(self, "_loss_normalised_over_window", False)

    def _counting_options(self) -> dict:
        """What `count_denominators` needs to know about this run."""
        student = unwrap(self.model)
        return dict(
            head=_head(student).name.replace("-", "_"),  # denominators.py's spelling of the head names
            mask_padding=self.args.mask_padding,
            config=student.config,
            hard_label=self.args.hard_label_loss_weight > 0,
        )

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """`Trainer.get_batch_samples`, returning the window's `WindowDenominators` as its `num_items_in_batch`: every
        count each loss divides by, summed over the window's micro-batches and across processes."""
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        if not batch_samples:
            return batch_samples, None
        window = WindowDenominators.from_batches(
            batch_samples,
            device,
            all_reduce=all_reduce_sum,
            processes=self._processes(),
            **self._counting_options(),
        )
        self._check_fixed_length(window.sequence_lengths)
        return batch_samples, window

    def _check_collator_pads_to_fixed_length(self) -> None:
        """See `_check_fixed_length`: a transformers collator that pads dynamically is refused before training."""
        padding = getattr(self.data_collator, "padding", None)
        padding = getattr(padding, "value", padding)  # a PaddingStrategy
        if self.args.mask_padding or not self.uses_layers or padding in (None, False, "max_length", "do_not_pad"):
            return
        raise _fixed_length_error(
            f"the data collator ({type(self.data_collator).__name__}, padding={padding!r}) pads each batch to its "
            "longest row"
        )

    def _check_fixed_length(self, lengths) -> None:
        """`mask_padding=False` reproduces the official code's averaging, which counts padded positions: that is only
        the official code's loss when every batch is padded to the same max_seq_length, as it does."""
        if self.args.mask_padding or not self.uses_layers or not lengths:
            return
        first = self._fixed_sequence_length = getattr(self, "_fixed_sequence_length", None) or lengths[0]
        if any(length != first for length in lengths):
            raise _fixed_length_error(f"batches of lengths {sorted({first, *lengths})} came")

    # ---- the loss ----

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The weighted TinyBERT loss of one batch. Each component is a sum over its items divided by their count:
        the count over the whole accumulation window and all processes when `num_items_in_batch` is the window's
        `WindowDenominators` (training), else this batch's count (evaluation, direct calls)."""
        student_config, teacher_config = unwrap(model).config, unwrap(self.teacher).config
        student_inputs = {
            k: v for k, v in inputs.items() if k not in self._teacher_only_columns(model) and k not in _LABEL_COLUMNS
        }
        teacher_inputs = {k: v for k, v in inputs.items() if k in self._teacher_inputs and k not in _LABEL_COLUMNS}
        attention_mask = inputs.get("attention_mask")
        padding_mask = attention_mask if self.args.mask_padding else None

        student_layers = list(range(1, student_config.num_hidden_layers + 1))
        if model.training and not getattr(self, "_capture_checked", False):
            self._check_capture(model, inputs, student_layers)
        with self._capture(model, student_layers) as student_acts:
            outputs = model(**student_inputs)
        if self.teacher.training:
            self.teacher.eval()
        with torch.no_grad(), self._teacher_precision(), self._capture(self.teacher, self.layer_map) as teacher_acts:
            teacher_outputs = self.teacher(**teacher_inputs)

        # component -> [(sum over its items, key of their count)]; `count=1` makes each loss function return its sum
        terms: dict[str, list[tuple[torch.Tensor, str]]] = {}
        if "emb" in self.loss_weights or "hidden" in self.loss_weights:
            embeddings, hidden_states = self._project(student_acts.embeddings, student_acts.hidden_states)
            if "emb" in self.loss_weights:
                terms["emb"] = [
                    (losses.masked_mse(embeddings, teacher_acts.embeddings, padding_mask, count=1), "tokens")
                ]
            if "hidden" in self.loss_weights:
                hidden = sum(
                    losses.masked_mse(hidden_states[m], teacher_acts.hidden_states[n], padding_mask, count=1)
                    for m, n in zip(student_layers, self.layer_map)
                )
                terms["hidden"] = [(hidden, "tokens")]
        if "att" in self.loss_weights:
            attention = sum(
                self._attention_loss(student_acts, teacher_acts, m, n, attention_mask, student_config, teacher_config)
                for m, n in zip(student_layers, self.layer_map)
            )
            terms["att"] = [(attention, "rows" if self.args.attention_loss == "probs_kl" else "pairs")]
        if "pred" in self.loss_weights:
            terms["pred"] = [self._prediction_loss(model, outputs, teacher_outputs, inputs)]
        if self.args.hard_label_loss_weight > 0:
            terms["hard"] = self._hard_label_terms(model, outputs, inputs)

        local = count_denominators(inputs, **self._counting_options())
        window = num_items_in_batch if isinstance(num_items_in_batch, WindowDenominators) and model.training else None
        self._loss_normalised_over_window = window is not None
        counts, processes = (window.counts, window.processes) if window is not None else (local, 1)
        weights = {**self.loss_weights, "hard": self.args.hard_label_loss_weight}
        loss = sum(
            weights[name] * sum(total / counts[key].to(total.device).clamp_min(1) for total, key in parts)
            for name, parts in terms.items()
        )
        if processes > 1:
            loss = loss * processes  # the gradients are averaged across processes: undo it (sums / global counts)
        if self._wrapper_needs_outputs_in_loss(model):
            loss = through_outputs(loss, outputs)
        self._record_components(terms, local, "train" if model.training else "eval")
        if return_outputs and "output_hidden_states" not in student_inputs:
            outputs = _without_hidden_states(outputs)  # captured for the losses, not predictions for evaluation
        return (loss, outputs) if return_outputs else loss

    def _check_capture(self, model, inputs, student_layers) -> None:
        """`check_capture` (once, on the first training batch): what both models' captures give equals what the
        models themselves report."""
        self._capture_checked = True
        if not (self.args.check_capture and self.uses_layers):
            return
        if self.is_fsdp_enabled or self._deepspeed_zero_stage() == 3:
            logger.info("check_capture skipped: the models' weights are sharded (FSDP / DeepSpeed ZeRO-3)")
            return
        attention = "att" in self.loss_weights
        for role, checked, layers in (("student", model, student_layers), ("teacher", self.teacher, self.layer_map)):
            with self._teacher_precision() if role == "teacher" else contextlib.nullcontext():
                found = check_capture(checked, inputs, layers, attention)
            logger.info(f"check_capture ({role}): largest differences {found}")

    def _teacher_precision(self):
        """A teacher cast to `teacher_dtype` computes in that dtype, also where the caller's autocast is active (which
        would mix bf16 activations with its fp16 LayerNorm weights); a teacher as loaded follows the caller."""
        if self.args.teacher_dtype == "auto":
            return contextlib.nullcontext()
        return losses.autocast_disabled(next(self.teacher.parameters()))

    def _project(self, embeddings: torch.Tensor | None, hidden_states: dict[int, torch.Tensor]):
        # Under FSDP or DeepSpeed mixed precision the student may compute in bf16/fp16 while the projections keep
        # another dtype: feed them their own (autocast, where active, still chooses the matmul's precision).
        weight = next(self.projections.parameters(), None)
        if weight is not None:
            embeddings = None if embeddings is None else embeddings.to(weight.dtype)
            hidden_states = {m: h.to(weight.dtype) for m, h in hidden_states.items()}
        return self.projections(embeddings, hidden_states)

    def _teacher_only_columns(self, model) -> set[str]:
        student_inputs = self._forward_parameters(model)
        return {name for name in self._teacher_inputs if name not in student_inputs}

    def _attention_loss(self, student_acts, teacher_acts, m, n, attention_mask, student_config, teacher_config):
        """Layer m's attention loss summed over its items (`count=1`)."""
        mask_queries = self.args.mask_padding
        sq, sk = student_acts.queries[m], student_acts.keys[m]
        tq, tk = teacher_acts.queries[n], teacher_acts.keys[n]
        s_heads, t_heads = student_config.num_attention_heads, teacher_config.num_attention_heads
        if self.args.attention_loss == "probs_kl":
            return losses.attention_probability_kl(
                sq, sk, tq, tk, s_heads, attention_mask, self.args.attention_head_average, t_heads, count=1
            )
        if self.args.attention_head_average:
            return losses.attention_score_mse_head_average(
                sq, sk, tq, tk, s_heads, t_heads, attention_mask, mask_queries, count=1
            )
        return losses.attention_score_mse(sq, sk, tq, tk, s_heads, attention_mask, mask_queries, count=1)

    def _prediction_loss(self, model, outputs, teacher_outputs, inputs) -> tuple[torch.Tensor, str]:
        """(the prediction loss summed over its items, the key of their count)."""
        head = _head(model).name
        t, t2 = self.args.temperature, self.args.scale_loss_by_t2
        if head == "question-answering":
            total = losses.span_soft_cross_entropy(
                outputs["start_logits"],
                outputs["end_logits"],
                teacher_outputs["start_logits"],
                teacher_outputs["end_logits"],
                t,
                t2,
                inputs.get("attention_mask"),
                count=1,
            )
            return total, "examples"
        student_logits, teacher_logits = _logits(outputs), _logits(teacher_outputs)
        if head == "sequence-classification" and student_logits.shape[-1] == 1:
            return losses.regression_mse(student_logits, teacher_logits, count=1), "examples"
        if head in ("token-classification", "masked-lm"):
            labels = inputs.get("labels")
            mask = labels.ne(-100) if labels is not None else inputs.get("attention_mask")
            return losses.soft_cross_entropy(student_logits, teacher_logits, t, t2, mask, count=1), "pred_items"
        return losses.soft_cross_entropy(student_logits, teacher_logits, t, t2, count=1), "examples"

    def _hard_label_terms(self, model, outputs, inputs) -> list[tuple[torch.Tensor, str]]:
        """The student's loss on the gold labels as its transformers head defines it (cross-entropy ignoring -100,
        MSE for regression, BCE for multi-label, the mean of the start and end losses for QA, with padded positions
        left out of the QA softmax), as sums."""
        head = _head(model).name
        config = unwrap(model).config
        if head == "question-answering":
            start, end = inputs.get("start_positions"), inputs.get("end_positions")
            if start is None or end is None:
                raise ValueError(
                    "hard_label_loss_weight > 0 but the batch has no start_positions/end_positions "
                    f"(columns: {sorted(inputs)})"
                )
            seq = outputs["start_logits"].shape[1]
            mask = inputs.get("attention_mask")
            with losses.autocast_disabled(outputs["start_logits"]):
                # padded positions are no answer candidates (so the loss does not change with the padding)
                start_logits, end_logits = (
                    outputs[name].float() if mask is None else outputs[name].float().masked_fill(mask == 0, -1e9)
                    for name in ("start_logits", "end_logits")
                )
                start_sum = F.cross_entropy(
                    start_logits, start.reshape(-1).clamp(0, seq), ignore_index=seq, reduction="sum"
                )
                end_sum = F.cross_entropy(end_logits, end.reshape(-1).clamp(0, seq), ignore_index=seq, reduction="sum")
            return [(start_sum / 2, "hard"), (end_sum / 2, "hard_end")]
        labels = inputs.get("labels")
        logits = _logits(outputs)
        if labels is None or logits is None or head == "base":
            raise ValueError(
                "hard_label_loss_weight > 0 needs gold labels and a student with a task or masked-LM head: the batch "
                f"has columns {sorted(inputs)}, the student is {type(unwrap(model)).__name__}"
            )
        with losses.autocast_disabled(logits):
            logits = logits.float()
            if head == "sequence-classification":
                problem = problem_type(config, labels)
                if problem == "regression":
                    return [(F.mse_loss(logits.reshape(labels.shape), labels.float(), reduction="sum"), "hard")]
                if problem == "multi_label_classification":
                    return [(F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="sum"), "hard")]
            total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum")
            return [(total, "hard")]

    # ---- logging of the components ----

    def _record_components(self, terms: dict, local_counts: dict[str, torch.Tensor], mode: str) -> None:
        """Add each term's sum and its local count, so `log` reports sum / count over everything since the last
        log: per-item means that do not depend on how the batches were laid out."""
        sums = self._component_sums[mode]
        for name, parts in terms.items():
            values = torch.stack(
                [
                    torch.stack([total.detach().float(), local_counts[key].float().to(total.device)])
                    for total, key in parts
                ]
            )  # (terms, 2)
            sums[name] = sums[name] + values if name in sums else values

    def _component_means(self, mode: str) -> dict[str, float]:
        """Each component's mean over the items recorded since the last log, over all processes."""
        means = {}
        for name, values in self._component_sums[mode].items():
            if self.accelerator.num_processes > 1:
                values = self.accelerator.reduce(values, reduction="sum")
            means[name] = (values[:, 0] / values[:, 1].clamp_min(1)).sum().item()
        return means

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        eval_key = next((k for k in logs if k.endswith("_loss") and k != "train_loss"), None)
        mode = "train" if "loss" in logs else "eval" if eval_key else None
        if mode is not None and self._component_sums[mode]:
            prefix = "" if mode == "train" else eval_key[: -len("loss")]
            for name, mean in self._component_means(mode).items():
                logs[f"{prefix}loss_{name}"] = round(mean, 6)
            self._component_sums[mode] = {}
        super().log(logs, start_time)

    # ---- the projections: trained by the same optimizer, saved beside the student ----

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        done = getattr(optimizer, "_distill_projections_added", False)
        # Under DeepSpeed the projections are attached to the student: its engine trains and zeroes them.
        if done or self._projections_attached or not any(True for _ in self.projections.parameters()):
            return optimizer
        # An optimizer passed in by the user may hold them already (see `create_projections`).
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        params = [(name, p) for name, p in self.projections.named_parameters() if id(p) not in present]
        if params:
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
        # Attached (DeepSpeed), the projections are among the student's parameters and DeepSpeed clips them.
        if not extra or self._projections_attached or self.is_deepspeed_enabled or self._has_mixed_mesh_grads(model):
            return super()._clip_grad_norm(model)
        if self.is_fsdp_enabled:
            # The student's gradients are sharded: only its wrapper can take their norm. Take it without clipping,
            # then scale the student's and the (replicated, already averaged) projections' gradients together.
            student_norm = self.accelerator.clip_grad_norm_(model.parameters(), float("inf"))
            return clip_by_total_norm(list(model.parameters()), extra, student_norm, self.args.max_grad_norm)
        return self.accelerator.clip_grad_norm_([*model.parameters(), *extra], self.args.max_grad_norm)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        # Every rank gets here (the state dict may have been gathered collectively); only `should_save` writes.
        folder = output_dir if output_dir is not None else self.args.output_dir
        if self._projections_attached and state_dict is None:
            state_dict = self.model.state_dict()
        projection_state: dict = {}
        if self._projections_attached:  # keep them out of the student's weights
            state_dict, projection_state = split_attached_projections(state_dict)
        super()._save(output_dir, state_dict)
        if not self.args.should_save:
            return
        if projection_state:
            state = {name: tensor.detach().contiguous().cpu() for name, tensor in projection_state.items()}
            save_file(
                state, os.path.join(folder, PROJECTIONS_FILE), metadata={"format": "pt", "mode": self.projections.mode}
            )
        elif self._projections_attached and self._deepspeed_zero_stage() == 3:
            logger.warning(
                f"The projections were not gathered (stage3_gather_16bit_weights_on_model_save=false): {folder} has no "
                f"{PROJECTIONS_FILE}; they are in the DeepSpeed checkpoint (zero_to_fp32.py recovers them)"
            )
        else:
            self.projections.save(folder)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        if not self.projections.load(resume_from_checkpoint) and any(True for _ in self.projections.parameters()):
            logger.warning(
                f"{resume_from_checkpoint} has no {PROJECTIONS_FILE}: the projections restart from their initial values"
            )

    def train(self, *args, **kwargs):
        """`Trainer.train`. Under DeepSpeed the projections first become a submodule of the student (named
        `distill_projections`, for the trainer's lifetime): DeepSpeed only trains, reduces, clips and checkpoints the
        parameters of the module it wraps. `save_model` still writes them beside the student, not inside it."""
        if self.is_deepspeed_enabled:
            self._attach_projections()
        return super().train(*args, **kwargs)

    # ---- model card and publishing: through the card hooks (`callbacks.py`) ----

    def _card_hooks(self) -> StudentCardHooks | None:
        """The `StudentCardHooks` among the callbacks, else a new one from `default_card_hooks` (added to the
        callbacks), else None."""
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, StudentCardHooks):
                return callback
        factory = type(self).default_card_hooks
        if factory is None:
            return None
        callback = factory(self)
        self.add_callback(callback)
        return callback

    def create_model_card(self, **kwargs) -> None:
        """Write the student's model card into `output_dir` with the card hooks (`model_card_callback`; the hub's
        `ModelCardCallback` writes README.md and model_card_facts.json: teacher, stages, layer map, loss weights,
        temperature, data, evaluation results, sizes). Without card hooks: `Trainer.create_model_card`."""
        if self.model_card_callback is None:
            return super().create_model_card(**kwargs)
        if not self.args.should_save:
            return None
        self.model_card_callback.write_card(self, self.args.output_dir, **kwargs)
        return None

    def push_to_hub(
        self,
        commit_message: str | None = "End of training",
        blocking: bool = True,
        token=None,
        revision=None,
        private=None,
        **kwargs,
    ):
        """Save the student, write its card and upload the folder with the card hooks (the hub's `ModelCardCallback`
        uses `hf_tinybert.hub.push_student`: weights (safetensors), tokenizer, card, the code files for
        `trust_remote_code`, and with `include_plain_bert=True` / `include_onnx=True` the plain-BERT variant and an
        int8 ONNX export; `endpoint=` overrides `HF_ENDPOINT`). The repository is `args.hub_model_id` (default: the
        output folder's name). Without card hooks: `Trainer.push_to_hub`."""
        if self.model_card_callback is None:
            return super().push_to_hub(commit_message, blocking, token, revision, private, **kwargs)
        self.save_model(_internal_call=True)
        if not self.args.should_save:
            return None
        self.create_model_card(**{k: kwargs.pop(k) for k in ("model_name", "dataset") if k in kwargs})
        repo_id = self.args.hub_model_id or os.path.basename(os.path.normpath(self.args.output_dir))
        return self.model_card_callback.push(
            self,
            repo_id,
            token=token or self.args.hub_token,
            private=bool(self.args.hub_private_repo if private is None else private),
            commit_message=commit_message,
            revision=revision,
            **kwargs,
        )
