"""Layer mapping and the pure loss functions, checked against direct formulas."""

import pytest
import torch
import torch.nn.functional as F

from hf_tinybert.distill import build_layer_map
from hf_tinybert.distill import losses as L

# ---- layer mapping ----


def test_uniform_map_is_the_papers():
    assert build_layer_map(4, 12) == [3, 6, 9, 12]
    assert build_layer_map(6, 12) == [2, 4, 6, 8, 10, 12]
    assert build_layer_map(4, 6) == [1, 3, 4, 6]
    assert build_layer_map(3, 3) == [1, 2, 3]


def test_first_last_and_explicit_maps():
    assert build_layer_map(4, 12, "first") == [1, 2, 3, 4]
    assert build_layer_map(4, 12, "last") == [9, 10, 11, 12]
    assert build_layer_map(4, 12, "2,4,8,12") == [2, 4, 8, 12]
    assert build_layer_map(2, 4, [4, 4]) == [4, 4]


@pytest.mark.parametrize(
    "strategy, message",
    [
        ("3,6,9", "has 3 entries"),
        ("0,6,9,12", "outside 1..12"),
        ("3,6,9,13", r"\[13\]"),
        ("middle", "Invalid layer map"),
    ],
)
def test_impossible_maps_are_errors(strategy, message):
    with pytest.raises(ValueError, match=message):
        build_layer_map(4, 12, strategy)


def test_first_last_need_a_shallower_student():
    with pytest.raises(ValueError, match="no deeper"):
        build_layer_map(6, 4, "last")


# ---- hidden-state MSE ----


def test_masked_mse_counts_only_real_tokens():
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    expected = torch.cat([(s[0, :3] - t[0, :3]).pow(2).flatten(), (s[1] - t[1]).pow(2).flatten()]).mean()
    assert torch.allclose(L.masked_mse(s, t, mask), expected)
    assert torch.allclose(L.masked_mse(s, t), F.mse_loss(s, t))
    with pytest.raises(ValueError, match="Shape mismatch"):
        L.masked_mse(s, t[:, :4])


# ---- attention ----


def _qk(batch=3, seq=9, heads=4, d_s=6, d_t=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    sq = torch.randn(batch, seq, heads * d_s, generator=g, requires_grad=True)
    sk = torch.randn(batch, seq, heads * d_s, generator=g, requires_grad=True)
    tq = torch.randn(batch, seq, heads * d_t, generator=g)
    tk = torch.randn(batch, seq, heads * d_t, generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    return sq, sk, tq, tk, heads, mask


def test_attention_scores_are_scaled_dot_products():
    sq, sk, _, _, heads, _ = _qk()
    scores = L.attention_scores(sq, sk, heads)
    q = sq.view(3, 9, heads, 6)[:, :, 1]
    k = sk.view(3, 9, heads, 6)[:, :, 1]
    assert torch.allclose(scores[:, 1], q @ k.transpose(1, 2) / 6**0.5, atol=1e-6)


def test_gram_attention_mse_equals_explicit_scores_with_padding():
    sq, sk, tq, tk, heads, mask = _qk()
    a_s, a_t = L.attention_scores(sq, sk, heads), L.attention_scores(tq, tk, heads)
    pair = (mask[:, None, :, None] * mask[:, None, None, :]).float()  # real query x real key
    expected = ((a_s - a_t).pow(2) * pair).sum() / (pair.sum() * heads)
    fast = L.attention_score_mse(sq, sk, tq, tk, heads, mask)
    assert torch.allclose(fast, expected, rtol=1e-5)
    # and the gradients agree
    g_fast = torch.autograd.grad(fast, (sq, sk))
    g_ref = torch.autograd.grad(expected, (sq, sk))
    for a, b in zip(g_fast, g_ref):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(L.attention_score_mse_explicit(sq, sk, tq, tk, heads, mask), expected, rtol=1e-5)


def test_attention_mse_without_query_masking_matches_the_official_code():
    sq, sk, tq, tk, heads, mask = _qk()
    # Official TinyBERT: scores + additive mask, values <= -100 set to 0, plain mean over B x h x S x S.
    additive = (1.0 - mask.float())[:, None, None, :] * -10000.0
    a_s = L.attention_scores(sq, sk, heads) + additive
    a_t = L.attention_scores(tq, tk, heads) + additive
    a_s = torch.where(a_s <= -100, torch.zeros_like(a_s), a_s)
    a_t = torch.where(a_t <= -100, torch.zeros_like(a_t), a_t)
    official = F.mse_loss(a_s, a_t)
    assert torch.allclose(L.attention_score_mse(sq, sk, tq, tk, heads, mask, mask_queries=False), official, rtol=1e-5)


def test_attention_mse_without_mask_is_the_plain_mean():
    sq, sk, tq, tk, heads, _ = _qk()
    expected = F.mse_loss(L.attention_scores(sq, sk, heads), L.attention_scores(tq, tk, heads))
    assert torch.allclose(L.attention_score_mse(sq, sk, tq, tk, heads, None), expected, rtol=1e-5)


def test_attention_mse_is_zero_for_identical_scores():
    sq, sk, _, _, heads, mask = _qk(d_t=6)
    loss = L.attention_score_mse(sq, sk, sq.detach().clone(), sk.detach().clone(), heads, mask)
    assert loss.item() < 1e-5


def test_head_averaged_attention_with_different_head_counts():
    g = torch.Generator().manual_seed(1)
    sq, sk = torch.randn(2, 7, 12, generator=g), torch.randn(2, 7, 12, generator=g)  # 2 heads x 6
    tq, tk = torch.randn(2, 7, 16, generator=g), torch.randn(2, 7, 16, generator=g)  # 4 heads x 4
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    a_s = L.attention_scores(sq, sk, 2).mean(1)
    a_t = L.attention_scores(tq, tk, 4).mean(1)
    pair = (mask[:, :, None] * mask[:, None, :]).float()
    expected = ((a_s - a_t).pow(2) * pair).sum() / pair.sum()
    assert torch.allclose(L.attention_score_mse_head_average(sq, sk, tq, tk, 2, 4, mask), expected, rtol=1e-5)


def test_attention_probability_kl():
    sq, sk, tq, tk, heads, mask = _qk()
    bias = (1.0 - mask.float())[:, None, None, :] * -1e9
    p_s = torch.softmax(L.attention_scores(sq, sk, heads) + bias, -1)
    p_t = torch.softmax(L.attention_scores(tq, tk, heads) + bias, -1)
    kl = (p_t * (p_t.clamp_min(1e-30).log() - p_s.clamp_min(1e-30).log())).sum(-1)  # (B, h, S)
    rows = mask[:, None, :].expand_as(kl).float()
    expected = (kl * rows).sum() / rows.sum()
    assert torch.allclose(L.attention_probability_kl(sq, sk, tq, tk, heads, mask), expected, rtol=1e-4)
    assert L.attention_probability_kl(sq, sk, sq.detach(), sk.detach(), heads, mask).item() < 1e-6


# ---- prediction layer ----


def test_soft_cross_entropy_matches_formula_and_temperature():
    torch.manual_seed(0)
    zs, zt = torch.randn(4, 3), torch.randn(4, 3)
    expected = -(torch.softmax(zt, -1) * torch.log_softmax(zs, -1)).sum(-1).mean()
    assert torch.allclose(L.soft_cross_entropy(zs, zt), expected)
    t = 2.0
    expected_t = -(torch.softmax(zt / t, -1) * torch.log_softmax(zs / t, -1)).sum(-1).mean()
    assert torch.allclose(L.soft_cross_entropy(zs, zt, temperature=t), expected_t)
    assert torch.allclose(L.soft_cross_entropy(zs, zt, temperature=t, scale_by_t2=True), expected_t * 4)
    with pytest.raises(ValueError, match="temperature"):
        L.soft_cross_entropy(zs, zt, temperature=0)


def test_soft_cross_entropy_is_minimal_at_the_teacher():
    zt = torch.tensor([[2.0, -1.0, 0.5]])
    at_teacher = L.soft_cross_entropy(zt, zt)
    entropy = -(torch.softmax(zt, -1) * torch.log_softmax(zt, -1)).sum()
    assert torch.allclose(at_teacher, entropy)
    assert L.soft_cross_entropy(zt + torch.tensor([[0.0, 1.0, 0.0]]), zt) > at_teacher


def test_span_loss_ignores_padding_and_regression_uses_teacher_output():
    torch.manual_seed(0)
    s_start, s_end, t_start, t_end = (torch.randn(2, 6) for _ in range(4))
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6])
    changed = s_start.clone()
    changed[0, 4:] += 50.0  # only padded positions change
    base = L.span_soft_cross_entropy(s_start, s_end, t_start, t_end, attention_mask=mask)
    assert torch.allclose(base, L.span_soft_cross_entropy(changed, s_end, t_start, t_end, attention_mask=mask))
    assert torch.allclose(
        L.regression_mse(torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [4.0]])), torch.tensor(2.5)
    )


def test_projections_load_the_part_they_need_and_refuse_a_file_of_another_mode(tmp_path):
    from hf_tinybert.distill.projections import HiddenProjections

    torch.manual_seed(0)
    full = HiddenProjections(8, 12, num_student_layers=2)  # W_e and W_h
    full.save(tmp_path)
    without_hidden = HiddenProjections(8, 12, num_student_layers=2, hidden_states=False)  # w/o the hidden loss
    assert without_hidden.load(tmp_path)
    torch.testing.assert_close(without_hidden.embeddings.weight, full.embeddings.weight)
    assert not hasattr(without_hidden, "hidden")

    shared = HiddenProjections(8, 12, num_student_layers=2, mode="shared")
    with pytest.raises(ValueError, match="does not fit projection='shared'.*shared.weight"):
        shared.load(tmp_path)
    assert not shared.load(tmp_path, strict=False)
    wider = HiddenProjections(8, 16, num_student_layers=2)
    with pytest.raises(ValueError, match=r"embeddings.weight: file \(12, 8\) vs expected \(16, 8\)"):
        wider.load(tmp_path)
