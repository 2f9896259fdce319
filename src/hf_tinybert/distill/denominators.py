"""What each loss component divides by, counted from a batch.

Every TinyBERT loss is a sum over items divided by the number of those items: real tokens for the embedding and
hidden-state losses, (query, key) pairs for the attention-score loss, examples for the prediction loss of a
sequence classifier or a QA model, labelled tokens for masked-LM and token-classification losses. With dynamic
padding those numbers differ from micro-batch to micro-batch, so a mean per micro-batch would weight a token of a
short batch more than a token of a long one: a step would depend on how the window was split (gradient
accumulation, several processes). `DistillationTrainer` therefore counts these numbers over the whole
accumulation window and all processes before the window's first forward (`WindowDenominators`), and each
component becomes local sum / window count.

Keys (`count_denominators`):
- `tokens`: positions in the embedding and hidden losses (real tokens; every position with `mask_padding=False`);
- `pairs`: (query, key) pairs in the attention-score loss (Σ_b n_b²; B·S² with `mask_padding=False`);
- `rows`: real query rows (the `probs_kl` attention loss);
- `examples`: rows of the batch (sequence classification, regression and QA prediction losses);
- `pred_items`: tokens in the masked-LM / token-classification prediction loss (labels != -100, else real tokens);
- `hard`, `hard_end`: items of the hard-label loss, counted as the student's head counts them (labels != -100;
  every output for regression and multi-label; QA start and end positions inside the sequence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from .losses import pair_count, token_count

KEYS = ("tokens", "pairs", "rows", "examples", "pred_items", "hard", "hard_end")


def problem_type(config, labels: torch.Tensor | None) -> str:
    """A sequence classifier's problem type as transformers' BERT heads decide it."""
    if getattr(config, "problem_type", None):
        return config.problem_type
    if config.num_labels == 1:
        return "regression"
    if labels is not None and labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def _shape(batch: Mapping) -> tuple[int, int]:
    for name in ("input_ids", "attention_mask", "inputs_embeds"):
        if name in batch and torch.is_tensor(batch[name]):
            return int(batch[name].shape[0]), int(batch[name].shape[1])
    raise ValueError(f"Cannot tell the batch size and sequence length from a batch with columns {sorted(batch)}")


def count_denominators(
    batch: Mapping, *, head: str, mask_padding: bool = True, config=None, hard_label: bool = False
) -> dict[str, torch.Tensor]:
    """The counts of one (collated) batch under every key of `KEYS`, as int64 scalars on the batch's device.

    Args:
        batch: the batch the trainer feeds both models (`input_ids`, `attention_mask`, labels, ...).
        head: the student's head kind ('sequence_classification', 'question_answering', 'token_classification',
            'masked_lm', 'base').
        mask_padding: count only real tokens (True) or every position (False, the official code's averaging).
        config: the student's config (for a sequence classifier's problem type and label count).
        hard_label: also count the hard-label loss's items.
    """
    batch_size, seq = _shape(batch)
    mask = batch.get("attention_mask")
    mask = mask if torch.is_tensor(mask) else None
    device = mask.device if mask is not None else batch.get("input_ids", torch.empty(0)).device

    def scalar(value) -> torch.Tensor:
        return torch.as_tensor(value, dtype=torch.int64, device=device).reshape(())

    padding_mask = mask if mask_padding else None
    real = token_count(mask, batch_size, seq, device)
    counts = {key: scalar(0) for key in KEYS}
    counts["rows"] = real
    counts["examples"] = scalar(batch_size)
    counts["tokens"] = token_count(padding_mask, batch_size, seq, device)
    counts["pairs"] = pair_count(mask, batch_size, seq, mask_padding, device)
    labels = batch.get("labels")
    labels = labels if torch.is_tensor(labels) else None
    if head in ("masked_lm", "token_classification"):
        counts["pred_items"] = labels.ne(-100).sum() if labels is not None else real
    if hard_label:
        counts.update(_hard_label_counts(batch, head, config, labels, seq))
    return counts


def _hard_label_counts(batch, head, config, labels, seq) -> dict[str, torch.Tensor]:
    if head == "question_answering":
        start, end = batch.get("start_positions"), batch.get("end_positions")
        if not (torch.is_tensor(start) and torch.is_tensor(end)):
            return {}
        # transformers' QA loss clamps positions to [0, S] and ignores S (answers outside the input)
        return {
            "hard": start.reshape(-1).clamp(0, seq).ne(seq).sum(),
            "hard_end": end.reshape(-1).clamp(0, seq).ne(seq).sum(),
        }
    if labels is None:
        return {}
    if head == "sequence_classification" and problem_type(config, labels) != "single_label_classification":
        return {"hard": torch.as_tensor(labels.numel(), dtype=torch.int64, device=labels.device)}
    return {"hard": labels.ne(-100).sum()}


@dataclass
class WindowDenominators:
    """The counts of a whole gradient-accumulation window, summed over its micro-batches and over `processes`.

    Handed to `compute_loss` as `num_items_in_batch`. With several processes each rank divides its local sums by
    these global counts and multiplies by `processes`, which undoes the averaging of gradients across ranks (DDP,
    FSDP, DeepSpeed, and the projections' own synchronisation).
    """

    counts: dict[str, torch.Tensor]
    processes: int = 1
    sequence_lengths: tuple[int, ...] = ()

    @classmethod
    def from_batches(
        cls, batches: Iterable[Mapping], device, *, all_reduce=None, processes: int = 1, **count_kwargs
    ) -> WindowDenominators:
        """Sum `count_denominators` over `batches` (moved to `device`) and, given `all_reduce` (a function that sums a
        tensor across processes in place), over the processes."""
        totals = torch.zeros(len(KEYS), dtype=torch.int64, device=device)
        lengths = []
        for batch in batches:
            counts = count_denominators(batch, **count_kwargs)
            totals += torch.stack([counts[key].to(device) for key in KEYS])
            lengths.append(_shape(batch)[1])
        if all_reduce is not None and processes > 1:
            all_reduce(totals)
        return cls(dict(zip(KEYS, totals.unbind())), processes, tuple(lengths))
