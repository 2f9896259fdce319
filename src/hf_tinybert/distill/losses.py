"""TinyBERT's losses as pure functions: tensors in, a scalar loss out.

Notation follows Jiao et al. (2020): embedding loss MSE(E_S W_e, E_T), hidden loss MSE(H_S W_h, H_T),
attention loss (1/h) Σ_heads MSE(A_S, A_T) on the unnormalised scores A = QKᵀ/√d, prediction loss
CE(softmax(z_T/t), log_softmax(z_S/t)). The projections W are applied by the caller.

Padding: with a mask (`mask_padding=True` in the trainer, the default) only real tokens count: hidden
states at real positions, attention scores between real queries and real keys. Without it the
official code's behaviour is reproduced: every position counts in the hidden MSE, and in the attention
MSE scores at padded keys are zeroed in both models while padded query rows still count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mse(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between (B, S, H) tensors over the positions where `mask` (B, S) is 1.

    Without a mask it is `F.mse_loss(student, teacher)` (mean over every element).
    """
    if student.shape != teacher.shape:
        raise ValueError(f"Shape mismatch: student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")
    if mask is None:
        return F.mse_loss(student, teacher.to(student.dtype))
    mask = mask.to(student.dtype)
    squared = (student - teacher.to(student.dtype)).pow(2).sum(-1)  # (B, S)
    count = mask.sum().clamp_min(1.0) * student.shape[-1]
    return (squared * mask).sum() / count


def split_heads(projection: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, S, h·d) query or key projection -> (B, h, S, d)."""
    batch, seq, width = projection.shape
    if width % num_heads:
        raise ValueError(f"Hidden width {width} is not divisible by {num_heads} heads")
    return projection.view(batch, seq, num_heads, width // num_heads).transpose(1, 2)


def attention_scores(query: torch.Tensor, key: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Pre-softmax attention scores QKᵀ/√d_head, (B, h, S, S), from (B, S, h·d) projections."""
    q, k = split_heads(query, num_heads), split_heads(key, num_heads)
    return torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)


def _heads_for_gram(projection: torch.Tensor, num_heads: int, row_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, S, h·d) -> (B·h, d, S), scaled by d^-1/4 (so the Gram products carry 1/√d) and with masked rows zeroed.

    Scaling and masking happen on the contiguous (B, S, h·d) layout, which is much faster on CPU than on
    head-split strided views.
    """
    batch, seq, width = projection.shape
    if width % num_heads:
        raise ValueError(f"Hidden width {width} is not divisible by {num_heads} heads")
    head_dim = width // num_heads
    scale = head_dim**-0.25
    if row_mask is not None:
        projection = projection * (row_mask.to(projection.dtype) * scale)[:, :, None]
    else:
        projection = projection * scale
    return (
        projection.view(batch, seq, num_heads, head_dim).permute(0, 2, 3, 1).reshape(batch * num_heads, head_dim, seq)
    )


def attention_score_mse(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
) -> torch.Tensor:
    """MSE between student and teacher pre-softmax attention scores, averaged over heads, from Q and K.

    The (B, h, S, S) score tensors are never built: with A = QKᵀ, Σ(A_S − A_T)² = ‖A_S‖² + ‖A_T‖² − 2⟨A_S, A_T⟩
    and each term is a sum over small d×d Gram matrices (‖QKᵀ‖² = Σ (QᵀQ) ⊙ (KᵀK)), so memory is O(d²) per
    head instead of O(S²). The result equals the explicit computation (see `attention_score_mse_explicit`).

    Args:
        student_query, student_key: (B, S, h·d_S) projections of one student layer.
        teacher_query, teacher_key: (B, S, h·d_T) projections of the mapped teacher layer.
        num_heads: h, the same for both models (see `attention_score_mse_head_average` otherwise).
        attention_mask: (B, S), 1 for real tokens; None counts every position.
        mask_queries: also drop padded query rows (True, default); False keeps them, as the official code
            does (scores at padded keys are zero in both models either way).
    """
    key_mask = attention_mask
    query_mask = attention_mask if mask_queries else None
    qs, ks = _heads_for_gram(student_query, num_heads, query_mask), _heads_for_gram(student_key, num_heads, key_mask)
    qt = _heads_for_gram(teacher_query.to(qs.dtype), num_heads, query_mask)
    kt = _heads_for_gram(teacher_key.to(qs.dtype), num_heads, key_mask)

    def gram_inner(q1, k1, q2, k2):  # Σ_{b,h} ⟨q1ᵀk1, q2ᵀk2⟩_F with q, k as (B·h, d, S)
        return (torch.bmm(q1, q2.transpose(1, 2)) * torch.bmm(k1, k2.transpose(1, 2))).sum(dtype=torch.float64)

    with torch.no_grad():
        teacher_sq = gram_inner(qt, kt, qt, kt)
    sum_sq = gram_inner(qs, ks, qs, ks) + teacher_sq - 2.0 * gram_inner(qs, ks, qt, kt)
    batch, seq = student_query.shape[:2]
    count = _pair_count(attention_mask, batch, seq, mask_queries, student_query.device).to(torch.float64)
    return (sum_sq.clamp_min(0.0) / (count * num_heads)).to(student_query.dtype)


def attention_score_mse_explicit(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
) -> torch.Tensor:
    """`attention_score_mse` computed on materialised (B, h, S, S) score tensors (reference and fallback)."""
    student = attention_scores(student_query, student_key, num_heads)
    teacher = attention_scores(teacher_query, teacher_key, num_heads).to(student.dtype)
    diff = _masked_scores(student - teacher, attention_mask, mask_queries)
    batch, seq = student_query.shape[:2]
    return diff.pow(2).sum() / (_pair_count(attention_mask, batch, seq, mask_queries, student.device) * num_heads)


def _masked_scores(scores: torch.Tensor, attention_mask: torch.Tensor | None, mask_queries: bool) -> torch.Tensor:
    """Zero the scores at padded keys (and padded queries when `mask_queries`); scores are (B, [h,] S, S)."""
    if attention_mask is None:
        return scores
    mask = attention_mask.to(scores.dtype)
    pair = mask[:, None, :] * (mask[:, :, None] if mask_queries else 1.0)  # (B, S_q, S_k)
    if scores.dim() == 4:
        pair = pair[:, None]
    return scores * pair


def _pair_count(attention_mask: torch.Tensor | None, batch: int, seq: int, mask_queries: bool, device) -> torch.Tensor:
    """Number of (query, key) pairs that count: real x real with `mask_queries`; otherwise all S x S pairs
    (the official code's plain mean, where the zeroed padded-key entries still count)."""
    if attention_mask is None or not mask_queries:
        return torch.tensor(float(batch * seq * seq), device=device)
    n_tokens = attention_mask.float().sum(-1)
    return (n_tokens * n_tokens).sum().clamp_min(1.0)


def attention_score_mse_head_average(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    student_heads: int,
    teacher_heads: int,
    attention_mask: torch.Tensor | None = None,
    mask_queries: bool = True,
) -> torch.Tensor:
    """MSE between head-averaged score maps (1/h)Σ_h A_h, for models with different head counts."""
    student = attention_scores(student_query, student_key, student_heads).mean(1)
    teacher = attention_scores(teacher_query, teacher_key, teacher_heads).mean(1).to(student.dtype)
    diff = _masked_scores(student - teacher, attention_mask, mask_queries)
    batch, seq = student.shape[:2]
    return diff.pow(2).sum() / _pair_count(attention_mask, batch, seq, mask_queries, student.device)


def attention_probability_kl(
    student_query: torch.Tensor,
    student_key: torch.Tensor,
    teacher_query: torch.Tensor,
    teacher_key: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | None = None,
    head_average: bool = False,
    teacher_heads: int | None = None,
) -> torch.Tensor:
    """KL(softmax(A_T) ‖ softmax(A_S)) per query row, averaged over real query rows and heads (MiniLM-style).

    Padded keys get no probability in either model, as in the models' own attention.
    """
    student = attention_scores(student_query, student_key, num_heads).float()
    teacher = attention_scores(teacher_query, teacher_key, teacher_heads or num_heads).float()
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
    if attention_mask is not None:
        rows = attention_mask.float()[:, None, :].expand_as(kl_rows)
        return ((kl_rows * rows).sum() / rows.sum().clamp_min(1.0)).to(student_query.dtype)
    return kl_rows.mean().to(student_query.dtype)


def soft_cross_entropy(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
    scale_by_t2: bool = False,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """CE(softmax(z_T/t), log_softmax(z_S/t)) over the last dimension, averaged over the other ones.

    Args:
        student_logits, teacher_logits: (..., C).
        temperature: t; the paper found t = 1 best.
        scale_by_t2: multiply by t² (Hinton et al.) so gradients keep their size as t grows; the paper and the
            official code do not.
        mask: optional (...) weights of the rows that count (e.g. real tokens for token classification).
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"Logit shapes differ: student {tuple(student_logits.shape)} vs teacher {tuple(teacher_logits.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    teacher_probs = F.softmax(teacher_logits.float() / temperature, dim=-1)
    per_row = -(teacher_probs * F.log_softmax(student_logits.float() / temperature, dim=-1)).sum(-1)
    if mask is None:
        loss = per_row.mean()
    else:
        mask = mask.to(per_row.dtype)
        loss = (per_row * mask).sum() / mask.sum().clamp_min(1.0)
    if scale_by_t2:
        loss = loss * temperature**2
    return loss.to(student_logits.dtype)


def span_soft_cross_entropy(
    student_start: torch.Tensor,
    student_end: torch.Tensor,
    teacher_start: torch.Tensor,
    teacher_end: torch.Tensor,
    temperature: float = 1.0,
    scale_by_t2: bool = False,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Soft cross-entropy on extractive-QA start and end logits (B, S), averaged; padded positions excluded."""

    def masked(logits):
        if attention_mask is None:
            return logits.float()
        return logits.float().masked_fill(attention_mask == 0, torch.finfo(torch.float32).min)

    start = soft_cross_entropy(masked(student_start), masked(teacher_start), temperature, scale_by_t2)
    end = soft_cross_entropy(masked(student_end), masked(teacher_end), temperature, scale_by_t2)
    return (start + end) / 2


def regression_mse(student_output: torch.Tensor, teacher_output: torch.Tensor) -> torch.Tensor:
    """MSE to the teacher's regression output (the paper; the official code regressed on gold labels, a bug)."""
    return F.mse_loss(student_output.float().view(-1), teacher_output.float().view(-1)).to(student_output.dtype)
