"""TinyBERT's losses as pure functions: tensors in, a scalar loss out.

Notation follows Jiao et al. (2020): embedding loss MSE(E_S W_e, E_T), hidden loss MSE(H_S W_h, H_T),
attention loss (1/h) Σ_heads MSE(A_S, A_T) on the unnormalised scores A = QKᵀ/√d, prediction loss
CE(softmax(z_T/t), log_softmax(z_S/t)). The projections W are applied by the caller.

Precision: every loss upcasts its inputs to float32, runs with autocast switched off, and returns a float32
scalar, whatever the models computed in (bf16/fp16 autocast, a bf16/fp16 teacher). The models' own rounding
stays theirs; the loss adds none of its own and cannot overflow in float16. No float64 is used (Apple MPS has
none).

Normalisation: each loss is a sum over the items that count divided by `count`, the number of those items.
By default `count` is taken from the tensors given (a mean over this batch); `DistillationTrainer` passes the
count over the whole gradient-accumulation window and all processes (see `denominators.py`), which makes a
step independent of how the window is split into micro-batches. `count=1` returns the plain sum.

Padding: with a mask (`mask_padding=True` in the trainer, the default) only real tokens count: hidden
states at real positions, attention scores between real queries and real keys. Without it the
official code's behaviour is reproduced: every position counts in the hidden MSE, and in the attention
MSE scores at padded keys are zeroed in both models while padded query rows still count (the official
code pads every batch to max_seq_length; the trainer requires fixed-length batches in that mode).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

# Below this share of ‖A_S‖² + ‖A_T‖², the Gram-matrix expansion of Σ(A_S − A_T)² would cancel away too many of
# float32's digits (its relative error grows like eps·(‖A_S‖² + ‖A_T‖²)/Σ(A_S − A_T)²): the attention loss is then
# recomputed from the explicit score difference, whose error grows only like eps·‖A‖/‖A_S − A_T‖.
GRAM_CANCELLATION_LIMIT = 1e-3


def autocast_disabled(*tensors: torch.Tensor):
    """A context without autocast on the tensors' device (where autocast exists for it)."""
    device_type = tensors[0].device.type if tensors else "cpu"
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except RuntimeError:  # a device type without autocast
        return contextlib.nullcontext()


def _normaliser(count, default: torch.Tensor) -> torch.Tensor:
    count = default if count is None else count
    return torch.as_tensor(count, device=default.device).float().clamp_min(1.0)


def token_count(attention_mask: torch.Tensor | None, batch: int, seq: int, device=None) -> torch.Tensor:
    """Positions that count in the embedding and hidden losses: real tokens, or every position without a mask (int64)."""
    if attention_mask is None:
        return torch.tensor(batch * seq, dtype=torch.int64, device=device)
    return attention_mask.long().sum()


def masked_mse(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None, *, count=None
) -> torch.Tensor:
    """Mean squared error between (B, S, H) tensors over the positions where `mask` (B, S) is 1, in float32.

    Without a mask it is `F.mse_loss(student, teacher)` (mean over every element). `count` replaces the number
    of positions that count (the mean is over count x H elements).
    """
    if student.shape != teacher.shape:
        raise ValueError(f"Shape mismatch: student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")
    with autocast_disabled(student):
        squared = (student.float() - teacher.float()).pow(2).sum(-1)  # (B, S)
        if mask is not None:
            squared = squared * mask.float()
        positions = token_count(mask, student.shape[0], student.shape[1], student.device)
        return squared.sum() / (_normaliser(count, positions) * student.shape[-1])


def split_heads(projection: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, S, h·d) query or key projection -> (B, h, S, d); a (B, h, S, d) tensor is already split."""
    if projection.dim() == 4:
        return projection
    batch, seq, width = projection.shape
    if width % num_heads:
        raise ValueError(f"Hidden width {width} is not divisible by {num_heads} heads")
    return projection.view(batch, seq, num_heads, width // num_heads).transpose(1, 2)


def attention_scores(query: torch.Tensor, key: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Pre-softmax attention scores QKᵀ/√d_head, (B, h, S, S), from (B, S, h·d) projections or (B, h, S, d) heads, in
    the inputs' dtype."""
    q, k = split_heads(query, num_heads), split_heads(key, num_heads)
    return torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)


def _batch_and_length(projection: torch.Tensor) -> tuple[int, int]:
    """(B, S) of a (B, S, h·d) projection or of (B, h, S, d) heads."""
    return (projection.shape[0], projection.shape[2]) if projection.dim() == 4 else tuple(projection.shape[:2])


def pair_count(
    attention_mask: torch.Tensor | None, batch: int, seq: int, mask_queries: bool = True, device=None
) -> torch.Tensor:
    """(query, key) pairs that count in the attention loss: Σ_b n_b² (real x real) with `mask_queries`; otherwise
    all S x S pairs (the official code's plain mean, where the zeroed padded-key entries still count). int64."""
    if attention_mask is None or not mask_queries:
        return torch.tensor(batch * seq * seq, dtype=torch.int64, device=device)
    n_tokens = attention_mask.long().sum(-1)
    return (n_tokens * n_tokens).sum()


def _heads_for_gram(projection: torch.Tensor, num_heads: int, row_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, S, h·d) or (B, h, S, d) -> (B·h, d, S) in float32, scaled by d^-1/4 (so the Gram products carry 1/√d),
    masked rows zeroed.

    For (B, S, h·d) input, scaling and masking happen on the contiguous layout, which is much faster on CPU than on
    head-split strided views.
    """
    if projection.dim() == 4:
        batch, heads, seq, head_dim = projection.shape
        weights = head_dim**-0.25 if row_mask is None else (row_mask.float() * head_dim**-0.25)[:, None, :, None]
        return (projection.float() * weights).transpose(-1, -2).reshape(batch * heads, head_dim, seq)
    batch, seq, width = projection.shape
    if width % num_heads:
        raise ValueError(f"Hidden width {width} is not divisible by {num_heads} heads")
    head_dim = width // num_heads
    scale = head_dim**-0.25
    weights = scale if row_mask is None else (row_mask.float() * scale)[:, :, None]
    projection = projection.float() * weights
    return (
        projection.view(batch, seq, num_heads, head_dim).permute(0, 2, 3, 1).reshape(batch * num_heads, head_dim, seq)
    )


def _gram_inner(q1, k1, q2, k2) -> torch.Tensor:
    """Σ_{b,h} ⟨q1ᵀk1, q2ᵀk2⟩_F with q, k as (B·h, d, S): the inner product of two score tensors via d×d Grams."""
    return (torch.bmm(q1, q2.transpose(1, 2)) * torch.bmm(k1, k2.transpose(1, 2))).sum()


def _explicit_squared_score_difference(sq, sk, tq, tk, num_heads, attention_mask, mask_queries) -> torch.Tensor:
    """Σ (A_S − A_T)² over the pairs that count, from materialised float32 (B, h, S, S) scores."""
    student = attention_scores(sq.float(), sk.float(), num_heads)
    teacher = attention_scores(tq.float(), tk.float(), num_heads)
    return _masked_scores(student - teacher, attention_mask, mask_queries).pow(2).sum()


def attention_score_mse(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
    *,
    count=None,
) -> torch.Tensor:
    """MSE between student and teacher pre-softmax attention scores, averaged over heads, from Q and K, in float32.

    The (B, h, S, S) score tensors are normally not built: with A = QKᵀ, Σ(A_S − A_T)² = ‖A_S‖² + ‖A_T‖² − 2⟨A_S, A_T⟩
    and each term is a sum over small d×d Gram matrices (‖QKᵀ‖² = Σ (QᵀQ) ⊙ (KᵀK)), so memory is O(d²) per
    head instead of O(S²). When the student is so close to the teacher that the three terms cancel to below
    `GRAM_CANCELLATION_LIMIT` of their size, the difference is recomputed from explicit float32 scores (one host
    sync per call to decide), so the loss and its gradient keep their precision however small the loss gets.

    Args:
        student_query, student_key: (B, S, h·d_S) projections of one student layer.
        teacher_query, teacher_key: (B, S, h·d_T) projections of the mapped teacher layer.
        num_heads: h, the same for both models (see `attention_score_mse_head_average` otherwise).
        attention_mask: (B, S), 1 for real tokens; None counts every position.
        mask_queries: also drop padded query rows (True, default); False keeps them, as the official code
            does (scores at padded keys are zero in both models either way).
        count: the number of (query, key) pairs to divide by (default: `pair_count` of this batch); the result
            is Σ (A_S − A_T)² / (count x h).
    """
    key_mask = attention_mask
    query_mask = attention_mask if mask_queries else None
    batch, seq = _batch_and_length(student_query)
    with autocast_disabled(student_query):
        qs = _heads_for_gram(student_query, num_heads, query_mask)
        ks = _heads_for_gram(student_key, num_heads, key_mask)
        with torch.no_grad():
            qt = _heads_for_gram(teacher_query, num_heads, query_mask)
            kt = _heads_for_gram(teacher_key, num_heads, key_mask)
            teacher_sq = _gram_inner(qt, kt, qt, kt)
        student_sq = _gram_inner(qs, ks, qs, ks)
        sum_sq = student_sq + teacher_sq - 2.0 * _gram_inner(qs, ks, qt, kt)
        if float(sum_sq.detach()) < GRAM_CANCELLATION_LIMIT * float(student_sq.detach() + teacher_sq):
            sum_sq = _explicit_squared_score_difference(
                student_query,
                student_key,
                teacher_query.detach(),
                teacher_key.detach(),
                num_heads,
                attention_mask,
                mask_queries,
            )
        pairs = pair_count(attention_mask, batch, seq, mask_queries, student_query.device)
        return sum_sq / (_normaliser(count, pairs) * num_heads)


def attention_score_mse_explicit(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
    *,
    count=None,
) -> torch.Tensor:
    """`attention_score_mse` computed on materialised float32 (B, h, S, S) score tensors (reference and fallback)."""
    batch, seq = _batch_and_length(student_query)
    with autocast_disabled(student_query):
        sum_sq = _explicit_squared_score_difference(
            student_query, student_key, teacher_query, teacher_key, num_heads, attention_mask, mask_queries
        )
        pairs = pair_count(attention_mask, batch, seq, mask_queries, student_query.device)
        return sum_sq / (_normaliser(count, pairs) * num_heads)


def _masked_scores(scores: torch.Tensor, attention_mask: torch.Tensor | None, mask_queries: bool) -> torch.Tensor:
    """Zero the scores at padded keys (and padded queries when `mask_queries`); scores are (B, [h,] S, S)."""
    if attention_mask is None:
        return scores
    mask = attention_mask.to(scores.dtype)
    pair = mask[:, None, :] * (mask[:, :, None] if mask_queries else 1.0)  # (B, S_q, S_k)
    if scores.dim() == 4:
        pair = pair[:, None]
    return scores * pair


def attention_score_mse_head_average(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    student_heads: int,
    teacher_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
    *,
    count=None,
) -> torch.Tensor:
    """MSE between head-averaged score maps (1/h)Σ_h A_h, for models with different head counts, in float32.

    `count`: the number of (query, key) pairs to divide by (default: `pair_count` of this batch).
    """
    batch, seq = _batch_and_length(student_query)
    with autocast_disabled(student_query):
        student = attention_scores(student_query.float(), student_key.float(), student_heads).mean(1)
        teacher = attention_scores(teacher_query.float(), teacher_key.float(), teacher_heads).mean(1)
        diff = _masked_scores(student - teacher, attention_mask, mask_queries)
        pairs = pair_count(attention_mask, batch, seq, mask_queries, student_query.device)
        return diff.pow(2).sum() / _normaliser(count, pairs)


def attention_probability_kl(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    head_average: bool = False,
    teacher_heads: int | None = None,
    *,
    count=None,
) -> torch.Tensor:
    """KL(softmax(A_T) ‖ softmax(A_S)) per query row, averaged over real query rows and heads (MiniLM-style), in
    float32. Padded keys get no probability in either model, as in the models' own attention.

    `count`: the number of real query rows to divide by (default: this batch's real tokens); the result is the
    sum of the per-row KLs over rows and heads / (count x heads).
    """
    batch, seq = _batch_and_length(student_query)
    with autocast_disabled(student_query):
        student = attention_scores(student_query.float(), student_key.float(), num_heads)
        teacher = attention_scores(teacher_query.float(), teacher_key.float(), teacher_heads or num_heads)
        if attention_mask is not None:
            key_bias = (1.0 - attention_mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
            student, teacher = student + key_bias, teacher + key_bias
        log_p_s = F.log_softmax(student, dim=-1)
        log_p_t = F.log_softmax(teacher, dim=-1)
        if head_average:
            log_p_s = torch.log(log_p_s.exp().mean(1, keepdim=True).clamp_min(1e-30))
            log_p_t = torch.log(log_p_t.exp().mean(1, keepdim=True).clamp_min(1e-30))
        p_t = log_p_t.exp()
        kl_rows = (p_t * (log_p_t - log_p_s)).sum(-1)  # (B, h, S)
        heads = kl_rows.shape[1]
        if attention_mask is not None:
            kl_rows = kl_rows * attention_mask.float()[:, None, :]
        rows = token_count(attention_mask, batch, seq, student_query.device)
        return kl_rows.sum() / (_normaliser(count, rows) * heads)


def _soft_cross_entropy_rows(student_logits, teacher_logits, temperature, valid=None) -> torch.Tensor:
    """-Σ_c softmax(z_T/t)_c · log_softmax(z_S/t)_c per row, float32. `valid` (..., C) marks the classes that exist
    (e.g. real positions of a span); the others get no probability and contribute nothing, for every t > 0."""
    student = student_logits.float() / temperature
    teacher = teacher_logits.float() / temperature
    if valid is None:
        return -(F.softmax(teacher, dim=-1) * F.log_softmax(student, dim=-1)).sum(-1)
    invalid = ~valid
    teacher_probs = F.softmax(teacher.masked_fill(invalid, float("-inf")), dim=-1)
    log_student = F.log_softmax(student.masked_fill(invalid, float("-inf")), dim=-1)
    return -torch.where(invalid, torch.zeros_like(log_student), teacher_probs * log_student).sum(-1)


def _check_logits(student_logits, teacher_logits, temperature) -> None:
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"Logit shapes differ: student {tuple(student_logits.shape)} vs teacher {tuple(teacher_logits.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def soft_cross_entropy(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    scale_by_t2: bool = False,
    mask: torch.Tensor | None = None,
    *,
    count=None,
) -> torch.Tensor:
    """CE(softmax(z_T/t), log_softmax(z_S/t)) over the last dimension, averaged over the other ones, in float32.

    Args:
        student_logits, teacher_logits: (..., C).
        temperature: t; the paper found t = 1 best.
        scale_by_t2: multiply by t² (Hinton et al.) so gradients keep their size as t grows; the paper and the
            official code do not.
        mask: optional (...) 0/1 weights of the rows that count (e.g. real tokens for token classification).
        count: the number of rows to divide by (default: the rows that count in this batch).
    """
    _check_logits(student_logits, teacher_logits, temperature)
    with autocast_disabled(student_logits):
        per_row = _soft_cross_entropy_rows(student_logits, teacher_logits, temperature)
        if mask is None:
            rows = torch.tensor(float(per_row.numel()), device=per_row.device)
        else:
            mask = mask.float()
            per_row, rows = per_row * mask, mask.sum()
        loss = per_row.sum() / _normaliser(count, rows)
        return loss * temperature**2 if scale_by_t2 else loss


def span_soft_cross_entropy(
    student_start: torch.Tensor,
    student_end: torch.Tensor,
    teacher_start: torch.Tensor,
    teacher_end: torch.Tensor,
    temperature: float = 1.0,
    scale_by_t2: bool = False,
    attention_mask: torch.Tensor | None = None,
    *,
    count=None,
) -> torch.Tensor:
    """Soft cross-entropy on extractive-QA start and end logits (B, S), averaged over the two and over examples, in
    float32; padded positions are not candidates (the temperature is applied first, so every t > 0 is finite).

    `count`: the number of examples to divide by (default: B).
    """
    _check_logits(student_start, teacher_start, temperature)
    _check_logits(student_end, teacher_end, temperature)
    valid = None if attention_mask is None else attention_mask.bool()
    with autocast_disabled(student_start):
        start = _soft_cross_entropy_rows(student_start, teacher_start, temperature, valid)
        end = _soft_cross_entropy_rows(student_end, teacher_end, temperature, valid)
        examples = torch.tensor(float(start.numel()), device=start.device)
        loss = (start.sum() + end.sum()) / (2 * _normaliser(count, examples))
        return loss * temperature**2 if scale_by_t2 else loss


def regression_mse(student_output: torch.Tensor, teacher_output: torch.Tensor, *, count=None) -> torch.Tensor:
    """MSE to the teacher's regression output (the paper; the official code regressed on gold labels, a bug), float32.

    `count`: the number of examples to divide by (default: the rows of this batch); the mean is over count x the
    number of outputs per example.
    """
    with autocast_disabled(student_output):
        student = student_output.float().reshape(student_output.shape[0], -1)
        teacher = teacher_output.float().reshape(student.shape)
        examples = torch.tensor(float(student.shape[0]), device=student.device)
        return (student - teacher).pow(2).sum() / (_normaliser(count, examples) * student.shape[1])
