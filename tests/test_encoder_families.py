"""Any encoder as teacher or student: the capture against each family's own outputs, the self-check, the errors for
what cannot be captured, short distillations across families, and the support matrix in docs/models.md (written by
this file: `HF_TINYBERT_WRITE_DOCS=1 pytest tests/test_encoder_families.py`)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import encoder_families as E
import pytest
import torch
from conftest import tiny_student_config
from datasets import Dataset
from test_distill_trainer import make_args

from hf_tinybert import DistillationTrainer, TinyBertConfig, TinyBertForSequenceClassification
from hf_tinybert.distill import losses as L
from hf_tinybert.distill.capture import LayerCapture, _AttentionRecorder, attention_capture_support, check_capture

DOC = Path(__file__).resolve().parent.parent / "docs" / "models.md"
MARKERS = ("<!-- support-matrix:start -->\n", "<!-- support-matrix:end -->")
LAYERS = [1, 2, 3]
# families whose attention scores are captured exactly; the others get embeddings and hidden states only
ATTENTION = [
    "bert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "electra",
    "electra-projected",
    "ernie",
    "distilbert",
    "albert",
    "modernbert",
    "xlm-roberta-xl",
    "esm",
]
OUTSIDE_INTERFACE = ["deberta", "deberta-v2", "mpnet", "roformer", "megatron-bert", "convbert"]
REFUSED_BY_CHECK = ["modernbert-local"]  # on the interface, but a sliding-window mask the scores loss does not model


def _eager_reference(model, batch):
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        return eager(**batch, output_hidden_states=True, output_attentions=True)


def _softmax_over_real_keys(q, k, mask):
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    return scores.masked_fill(mask[:, None, None, :] == 0, float("-inf")).softmax(-1)


@pytest.mark.parametrize("family", ATTENTION + OUTSIDE_INTERFACE + REFUSED_BY_CHECK)
def test_capture_equals_the_models_own_outputs(family):
    """As teacher (no_grad, the model's default attention implementation): embeddings and hidden states equal the
    eager model's `hidden_states`, softmax(captured scores) its `attentions`, to 1e-5 on a padded batch."""
    model, batch = E.model(family), E.padded_batch()
    attention = family in ATTENTION
    assert (attention_capture_support(model) is None) == (family not in OUTSIDE_INTERFACE)
    with torch.no_grad(), LayerCapture(model, LAYERS, attention=attention) as captured:
        model(**batch)
    reference = _eager_reference(model, batch)
    real = batch["attention_mask"][:, :, None].bool()
    assert torch.allclose(captured.embeddings * real, reference.hidden_states[0] * real, atol=1e-5)
    for m in LAYERS:
        assert torch.allclose(captured.hidden_states[m] * real, reference.hidden_states[m] * real, atol=1e-5), m
        if attention:
            pair = (batch["attention_mask"][:, None, :, None] * batch["attention_mask"][:, None, None, :]).bool()
            ours = _softmax_over_real_keys(captured.queries[m], captured.keys[m], batch["attention_mask"])
            assert torch.allclose(ours * pair, reference.attentions[m - 1] * pair, atol=1e-5), m


@pytest.mark.parametrize("family", ATTENTION + OUTSIDE_INTERFACE + REFUSED_BY_CHECK)
def test_as_student_gradients_reach_the_model_and_gram_loss_equals_explicit(family):
    attention = family in ATTENTION
    model, batch = E.model(family), E.padded_batch()
    teacher = E.model(family, seed=1)
    with LayerCapture(model, LAYERS, attention=attention) as student:
        model(**batch)
    with torch.no_grad(), LayerCapture(teacher, LAYERS, attention=attention) as target:
        teacher(**batch)
    mask = batch["attention_mask"]
    total = L.masked_mse(student.hidden_states[3], target.hidden_states[3], mask)
    total = total + L.masked_mse(student.embeddings, target.embeddings, mask)
    if attention:
        heads = model.config.num_attention_heads
        args = (student.queries[2], student.keys[2], target.queries[2], target.keys[2], heads, mask)
        gram, explicit = L.attention_score_mse(*args), L.attention_score_mse_explicit(*args)
        assert gram.item() == pytest.approx(explicit.item(), rel=1e-5) and gram.item() > 0
        total = total + gram
    total.backward()
    assert sum(p.grad.abs().sum().item() for p in model.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("family", ATTENTION)
def test_self_check_passes_on_every_supported_family(family):
    found = check_capture(E.model(family), E.padded_batch(), LAYERS, attention=True)
    assert found["hidden"] < 1e-6 and found["attention"] < 1e-6


def test_self_check_catches_a_sliding_window_and_a_wrong_capture(monkeypatch):
    with pytest.raises(ValueError, match=r"ModernBertModel \(model_type 'modernbert'\) are not the model's"):
        check_capture(E.model("modernbert-local"), E.padded_batch(), LAYERS, attention=True)
    # a capture that loses the rotary embeddings would give other scores; here: keys of the wrong heads
    original = _AttentionRecorder.record
    monkeypatch.setattr(_AttentionRecorder, "record", lambda self, q, k, s: original(self, q, k.flip(1), s))
    with pytest.raises(ValueError, match="are not the model's.*attention_loss_weight=0"):
        check_capture(E.model("esm"), E.padded_batch(), LAYERS, attention=True)


def _tiny_student(**overrides):
    return TinyBertForSequenceClassification(
        tiny_student_config(
            vocab_size=E.VOCAB,
            num_labels=2,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            max_position_embeddings=64,
            **overrides,
        )
    )


def _rows(n: int = 32, seed: int = 0) -> Dataset:
    batch = E.padded_batch(n, 12, seed)
    labels = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed))
    return Dataset.from_dict({**{k: v.tolist() for k, v in batch.items()}, "labels": labels.tolist()})


def _args(tmp_path, **overrides):
    return make_args(
        tmp_path, **{"stage": "joint", "num_train_epochs": 4, "learning_rate": 3e-3, "logging_steps": 4, **overrides}
    )


@pytest.mark.parametrize("family", OUTSIDE_INTERFACE)
def test_families_outside_the_interface_refuse_the_attention_loss_before_training(tmp_path, family):
    teacher = E.model(family, head="sequence_classification", num_labels=2)
    model_type = teacher.config.model_type
    with pytest.raises(ValueError, match=rf"The teacher: .*model_type '{model_type}'.*attention_loss_weight=0"):
        DistillationTrainer(_tiny_student(), _args(tmp_path), teacher_model=teacher)
    with pytest.raises(ValueError, match=f"model_type '{model_type}'"):
        LayerCapture(teacher, [1])
    DistillationTrainer(_tiny_student(), _args(tmp_path, attention_loss_weight=0.0), teacher_model=teacher)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["roberta", "modernbert", "deberta-v2", "distilbert"])
def test_a_short_distillation_from_each_family_lowers_every_loss(tmp_path, family):
    teacher = E.model(family, head="sequence_classification", num_labels=2)
    attention = family in ATTENTION
    student = _tiny_student(num_attention_heads=4, hidden_size=24)
    args = _args(tmp_path, attention_loss_weight=1.0 if attention else 0.0)
    trainer = DistillationTrainer(student, args, teacher_model=teacher, train_dataset=_rows())
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss_hidden" in entry]
    names = ["loss_emb", "loss_hidden", "loss_pred"] + (["loss_att"] if attention else [])
    for name in names:
        assert logs[-1][name] < logs[0][name], (family, name, logs[0][name], logs[-1][name])
    assert "loss_att" not in logs[0] or attention


@pytest.mark.slow
@pytest.mark.parametrize("family", ["roberta", "modernbert"])
def test_cross_architecture_student_saves_loads_and_exports(tmp_path, family, tiny_tokenizer_dir):
    from transformers import AutoModelForSequenceClassification

    from hf_tinybert.export import export_onnx

    teacher = E.model(family, head="sequence_classification", num_labels=2)
    config = TinyBertConfig.from_preset(
        "tinybert-4l-312d", teacher.config, num_labels=2, num_hidden_layers=2, hidden_size=48, num_attention_heads=4
    )
    assert config.vocab_size == E.VOCAB and config.pad_token_id == teacher.config.pad_token_id
    assert config.max_position_embeddings == teacher.config.max_position_embeddings
    student = TinyBertForSequenceClassification(config)
    trainer = DistillationTrainer(
        student, _args(tmp_path, num_train_epochs=1), teacher_model=teacher, train_dataset=_rows(16)
    )
    trainer.train()
    trainer.save_model(str(tmp_path / "student"))
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student").eval()
    batch = E.padded_batch()
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, student.eval()(**batch).logits, atol=1e-6)
    result = export_onnx(tmp_path / "student", tmp_path / "onnx", tokenizer=tiny_tokenizer_dir)
    assert result.passed


# ---- the support matrix, written from what the tests above check ----


def _matrix_rows() -> list[str]:
    rows = []
    for family, (_, _, stands_for) in E.FAMILIES.items():
        model_type = E.config(family).model_type
        if family in ATTENTION:
            attention, how = (
                "yes (captured at the attention interface)",
                "capture = eager outputs, self-check, Gram = explicit",
            )
        elif family in REFUSED_BY_CHECK:
            attention, how = (
                "refused by the self-check (sliding-window layers)",
                "capture = eager outputs, self-check raises",
            )
        else:
            attention, how = "no: clear error; `attention_loss_weight=0`", "capture = eager outputs, error"
        rows.append(f"| `{model_type}` ({family}) | {stands_for} | yes | yes | {attention} | yes | yes | {how} |")
    return rows


def test_support_matrix_doc_is_current():
    """The matrix between the markers in docs/models.md is what the tests in this file check."""
    table = "\n".join(
        [
            "| model type | stands for | embeddings | hidden states | attention scores | as teacher | as student | tested |",
            "|---|---|---|---|---|---|---|---|",
            *_matrix_rows(),
            "",
        ]
    )
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    if os.environ.get("HF_TINYBERT_WRITE_DOCS") == "1":
        text, end = text[:start] + table + text[end:], start + len(table)
        DOC.write_text(text, encoding="utf-8")
    assert text[start:end] == table, "run HF_TINYBERT_WRITE_DOCS=1 pytest tests/test_encoder_families.py"


def test_trainer_runs_the_self_check_on_the_first_batch_before_any_step(tmp_path):
    teacher = E.model("modernbert-local", head="sequence_classification", num_labels=2)
    student = _tiny_student(num_attention_heads=4, hidden_size=24)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    trainer = DistillationTrainer(student, _args(tmp_path), teacher_model=teacher, train_dataset=_rows(16))
    with pytest.raises(ValueError, match="are not the model's.*sliding-window"):
        trainer.train()
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in start.items())  # refused before any step
    for overrides in (dict(attention_loss_weight=0.0), dict(check_capture=False)):
        trainer = DistillationTrainer(
            _tiny_student(num_attention_heads=4, hidden_size=24),
            _args(tmp_path, num_train_epochs=1, **overrides),
            teacher_model=teacher,
            train_dataset=_rows(16),
        )
        trainer.train()
        assert trainer.state.global_step == 2
