"""What `DistillationTrainer` does when several processes train one student (`torchrun`, `accelerate launch`).

The student is wrapped by `Trainer` (DDP, FSDP or DeepSpeed). The teacher is never wrapped for training: it is
frozen, in eval mode, on each rank's device, and broadcast from rank 0 so every rank distils from the same weights;
under DeepSpeed ZeRO-3 it is sharded by an inference-only DeepSpeed engine instead (as TRL does for its teachers).
The projections are a separate module: under DDP and FSDP they stay replicated, start from rank 0's values and have
their gradients averaged across ranks at the end of each accumulation window, before clipping
(`_synchronise_projections`); under DeepSpeed, which steps only the parameters of the module it wraps, they are
registered inside the student for training (`ATTACHED_PROJECTIONS`) and split out again when saving
(`split_attached_projections`). Under DDP and FSDP the loss is also routed through the student's outputs with a
zero gradient (`through_outputs`): the layer-wise losses use hooked activations, which those wrappers do not see.

`DistributedMixin` holds the trainer's methods for all this; it overrides no `Trainer` method (the overrides are in
`trainer.py`). In a single process every one of them does nothing.
"""

from __future__ import annotations

import copy
import re

import datasets
import torch
import torch.distributed as dist
from torch import nn
from transformers.utils import logging

from .capture import unwrap

logger = logging.get_logger(__name__)

# Under DeepSpeed the projections train as this submodule of the student (see `DistillationTrainer.train`); state
# dict keys under it are written to the projections file, never into the student's weights.
ATTACHED_PROJECTIONS = "distill_projections"
_ATTACHED_KEY = re.compile(rf"(?:^|\.){ATTACHED_PROJECTIONS}\.(.+)$")


def split_attached_projections(state_dict: dict) -> tuple[dict, dict]:
    """(student's entries, projections' entries keyed as in the projections file) of a state dict taken while the
    projections were attached to the student (`ATTACHED_PROJECTIONS`)."""
    student, projections = {}, {}
    for key, value in state_dict.items():
        match = _ATTACHED_KEY.search(key)
        if match:
            projections[match.group(1)] = value
        else:
            student[key] = value
    return student, projections


def clip_by_total_norm(student_params, extra_params, student_norm, max_norm: float) -> torch.Tensor:
    """Clip two groups of gradients as one, given the first group's norm (which only a sharding wrapper can take).

    Scales every gradient by the coefficient `clip_grad_norm_` would use on the union of both groups; returns the
    union's norm.
    """
    if hasattr(student_norm, "full_tensor"):  # a DTensor (FSDP2)
        student_norm = student_norm.full_tensor()
    extra_norm = torch.nn.utils.get_total_norm([p.grad for p in extra_params if p.grad is not None])
    student_norm = torch.as_tensor(student_norm, dtype=torch.float32, device=extra_norm.device)
    total = torch.linalg.vector_norm(torch.stack([student_norm, extra_norm.float()]))
    coefficient = min(1.0, max_norm / (float(total) + 1e-6))
    if coefficient < 1.0:
        for param in [*student_params, *extra_params]:
            if param.grad is not None:
                param.grad.mul_(coefficient)
    return total


def all_reduce_sum(tensor: torch.Tensor) -> None:
    """Sum `tensor` in place across the processes (gloo has no ReduceOp.AVG, so averages are sums divided)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)


def _grad_tensors(outputs) -> list[torch.Tensor]:
    """The tensors that require grad in a model's outputs (nested in ModelOutput / tuples / dicts)."""
    if isinstance(outputs, torch.Tensor):
        return [outputs] if outputs.requires_grad else []
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return [tensor for item in outputs for tensor in _grad_tensors(item)]
    return []


class _ThroughOutputs(torch.autograd.Function):
    """The loss, unchanged, made to depend on the wrapped student's outputs with a zero gradient.

    TinyBERT's layer-wise losses are computed from hooked activations, not from what the student's forward returns
    (general distillation uses none of its outputs). DDP and FSDP start their gradient reduction from the backward
    of those outputs (DDP's static-graph all-reduce, FSDP's final callback) and expect every parameter reachable
    from them to get a gradient: without this, DDP either fails on the second step (the pooler gets no gradient) or,
    with a static graph, silently never all-reduces. Backward hands the outputs zeros (expanded, not allocated).
    """

    @staticmethod
    def forward(ctx, loss, *outputs):
        ctx.outputs = [(tensor.shape, tensor.dtype, tensor.device) for tensor in outputs]
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        zeros = [torch.zeros((), dtype=dtype, device=device).expand(shape) for shape, dtype, device in ctx.outputs]
        return (grad, *zeros)


def through_outputs(loss: torch.Tensor, outputs) -> torch.Tensor:
    """`loss`, unchanged, depending with a zero gradient on every tensor of `outputs` that requires grad (see
    `_ThroughOutputs`)."""
    return _ThroughOutputs.apply(loss, *_grad_tensors(outputs))


class DistributedMixin:
    """The several-processes part of `DistillationTrainer` (a `Trainer` with `teacher`, `projections` and
    `_projections_attached`). Overrides no `Trainer` method."""

    # ---- where the processes stand ----

    def _is_distributed(self) -> bool:
        return self.accelerator.num_processes > 1 and dist.is_available() and dist.is_initialized()

    def _processes(self) -> int:
        """The processes whose batches one optimizer step sums over (1 when not distributed)."""
        return self.accelerator.num_processes if self._is_distributed() else 1

    def _deepspeed_zero_stage(self) -> int | None:
        if not self.is_deepspeed_enabled:
            return None
        return self.accelerator.state.deepspeed_plugin.zero_stage

    def _wrapper_needs_outputs_in_loss(self, model: nn.Module) -> bool:
        # See `_ThroughOutputs`. Only a training forward through a DDP or FSDP wrapper needs it.
        if not (torch.is_grad_enabled() and model.training):
            return False
        return isinstance(model, nn.parallel.DistributedDataParallel) or self.is_fsdp_enabled

    # ---- the teacher ----

    def _place_teacher(self, teacher_dtype: str) -> None:
        """Freeze the teacher and put it where every rank computes with the same weights: an inference-only DeepSpeed
        engine under ZeRO-3, else cast to `teacher_dtype` (unless "auto"), on this rank's device, broadcast from
        rank 0."""
        self.teacher.eval()
        self.teacher.requires_grad_(False)
        if self._deepspeed_zero_stage() == 3:
            # ZeRO-3 partitions the teacher's weights when it is loaded (zero.Init): an inference-only engine
            # gathers them layer by layer. Casting or moving partitioned weights here would corrupt them.
            self.teacher = self._deepspeed_teacher(self.teacher)
        else:
            if teacher_dtype != "auto":
                self.teacher.to(getattr(torch, teacher_dtype))
            self.teacher.to(self.args.device)
            self._broadcast_from_main_process(self.teacher)

    def _deepspeed_teacher(self, teacher: nn.Module) -> nn.Module:
        """The teacher in an inference-only DeepSpeed ZeRO-3 engine, as TRL's `prepare_deepspeed` does for its
        teachers: weights partitioned across ranks, gathered layer by layer in the forward (hooks still see every
        layer). Written against DeepSpeed's API; not run in this project's tests (no GPUs, DeepSpeed not installed)."""
        import deepspeed

        config = copy.deepcopy(self.accelerator.state.deepspeed_plugin.deepspeed_config)
        config.pop("optimizer", None)  # frozen: nothing to optimise or schedule
        config.pop("scheduler", None)
        hidden = unwrap(teacher).config.hidden_size
        # These may still read "auto" here (Trainer fills them from the student when training starts).
        config.setdefault("zero_optimization", {}).update(
            reduce_bucket_size=hidden * hidden,
            stage3_param_persistence_threshold=10 * hidden,
            stage3_prefetch_bucket_size=int(0.9 * hidden * hidden),
        )
        engine, *_ = deepspeed.initialize(model=teacher, config=config)
        engine.eval()
        return engine

    def _broadcast_from_main_process(self, module: nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers of `module` (nothing in a single process): every rank then
        works with the same values, even if ranks loaded or initialised them differently (a randomly initialised
        head, placeholders left by FSDP's RAM-efficient loading)."""
        if not self._is_distributed():
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    # ---- the projections ----

    def _attach_projections(self) -> None:
        """Register the projections inside the student as `ATTACHED_PROJECTIONS` (DeepSpeed trains only the module
        it wraps); `_save` writes them beside the student again."""
        if self._projections_attached or not any(True for _ in self.projections.parameters()):
            return
        unwrap(self.model).add_module(ATTACHED_PROJECTIONS, self.projections)
        self._projections_attached = True

    def _synchronise_projections(self) -> None:
        """Keep the projections identical on every rank under DDP and FSDP (DeepSpeed trains them attached).

        They sit outside the module DDP/FSDP wraps, so nothing else would synchronise them: each rank would train its
        own copy on its own batches, and the joint clipping would scale each rank's student gradients differently.
        Every rank starts from rank 0's values, and each parameter's gradient is averaged across ranks when the
        accumulation window closes (`sync_gradients`), before clipping and the optimizer step: the approach
        `Trainer._sync_replicated_trainable_parameters` takes for replicated parameters beside FSDP2.
        """
        if not self._is_distributed() or self.is_deepspeed_enabled:
            return
        self._broadcast_from_main_process(self.projections)
        for param in self.projections.parameters():
            param.register_post_accumulate_grad_hook(self._average_gradient_across_ranks)

    def _average_gradient_across_ranks(self, param: torch.Tensor) -> None:
        if param.grad is None or not self.accelerator.sync_gradients:
            return
        param.grad.div_(self.accelerator.num_processes)
        all_reduce_sum(param.grad)

    # ---- checks before training ----

    def _check_process_setup(self) -> None:
        """Refuse a launch of several processes in which the trainer is not distributed (on CPU without
        `use_cpu=True`): each process would train its own student on all the data and overwrite the others' files."""
        world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if world_size > 1 and self.accelerator.num_processes == 1:
            raise ValueError(
                f"{world_size} processes were launched but the trainer is not distributed (parallel_mode="
                f"{self.args.parallel_mode.value}): each process would train alone. On a machine without GPUs set "
                "use_cpu=True (--use_cpu) so that the processes train one model with DDP over gloo."
            )
        if self.is_fsdp_enabled and self.accelerator.is_fsdp2 and any(True for _ in self.projections.parameters()):
            # accelerate's FSDP2 preparation maps every optimizer parameter to a sharded one of the model and raises
            # a KeyError for the projections, which live beside it.
            raise ValueError(
                "FSDP2 (fsdp_version: 2) cannot train the distillation projections, which live beside the sharded "
                f"student (student hidden size {self.projections.student_size}, teacher {self.projections.teacher_size})."
                " Use fsdp_version: 1 (examples/accelerate/fsdp.yaml), DDP or DeepSpeed."
            )

    def _check_not_split_by_rank(self) -> None:
        """Refuse a streamed dataset already split by rank: `Trainer` splits what it is given across the processes
        again, so each rank would see a part of its part and most of the data would silently never be used."""
        if self.accelerator.num_processes == 1:
            return
        named = {"train_dataset": self.train_dataset}
        if isinstance(self.eval_dataset, dict):
            named.update({f"eval_dataset[{key!r}]": value for key, value in self.eval_dataset.items()})
        else:
            named["eval_dataset"] = self.eval_dataset
        for name, dataset in named.items():
            split = getattr(dataset, "_distributed", None) if isinstance(dataset, datasets.IterableDataset) else None
            if split is not None:
                raise ValueError(
                    f"{name} is already split by rank (rank {split.rank} of {split.world_size}, e.g. by "
                    "shard_for_rank or load_corpus(shard_by_rank=True)), and the trainer splits its data across the "
                    f"{self.accelerator.num_processes} processes itself: only 1/{self.accelerator.num_processes} of "
                    "the data would be used. Pass the whole dataset: by default rank 0 reads it and hands every rank "
                    "its batches; with accelerator_config={'dispatch_batches': False} each rank reads its own shards."
                )


__all__ = [
    "ATTACHED_PROJECTIONS",
    "DistributedMixin",
    "all_reduce_sum",
    "clip_by_total_norm",
    "split_attached_projections",
    "through_outputs",
]
