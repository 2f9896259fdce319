"""benchmarks/step_cost.py: its bf16 rows time what they say. (e) swaps in losses without the float32 upcast for the
step only; (d) keeps the library's float32 losses; both give the same loss up to bf16 rounding."""

from __future__ import annotations

import pytest
import torch
from conftest import load_benchmark
from transformers import BertConfig

from hf_tinybert import TinyBertConfig
from hf_tinybert.distill import losses


def test_bf16_rows_swap_the_losses_only_inside_the_step(monkeypatch):
    script = load_benchmark("step_cost")
    shape = dict(vocab_size=30522, num_hidden_layers=2, num_attention_heads=4, num_labels=2)
    teacher = BertConfig(hidden_size=48, intermediate_size=64, **shape)
    student = TinyBertConfig(hidden_size=32, intermediate_size=48, fit_size=48, **shape)
    monkeypatch.setattr(script, "configs", lambda: (teacher, student))
    monkeypatch.setattr(script, "BATCH", 4)
    t, s, batch = script.build(16)
    steps = {m: script.Step(m, t, s, batch) for m in ("a", "d", "e", "f", "g")}
    for method in ("d", "e", "g"):  # the same projections everywhere (each trainer draws its own)
        steps[method].trainer.projections.load_state_dict(steps["a"].trainer.projections.state_dict())
    values = {}
    for method in ("a", "d", "e", "g"):
        steps[method].student.eval()  # no dropout: the three losses are comparable
        values[method] = steps[method].loss().item()
    original = losses.masked_mse, losses.attention_score_mse
    with script.losses_in_bf16(True):
        assert losses.masked_mse is script._masked_mse_bf16
    assert (losses.masked_mse, losses.attention_score_mse) == original
    # the same objective up to bf16 rounding of the models (d) and of the losses too (e)
    assert abs(values["d"] - values["a"]) < 0.05 * values["a"]
    assert abs(values["e"] - values["a"]) < 0.05 * values["a"]
    assert values["e"] != values["d"]
    assert values["g"] == pytest.approx(values["a"], rel=1e-5)  # the previous capture: the same loss
    for step in steps.values():
        wall, cpu = step.run()
        assert wall > 0 and cpu > 0
    # (f) trains the projections from the captured tensors and leaves the student alone
    f = steps["f"]
    student_before = {k: v.clone() for k, v in f.student.state_dict().items()}
    projections_before = {k: v.clone() for k, v in f.trainer.projections.state_dict().items()}
    f.run()
    assert all(torch.equal(v, f.student.state_dict()[k]) for k, v in student_before.items())
    assert any(not torch.equal(v, f.trainer.projections.state_dict()[k]) for k, v in projections_before.items())
