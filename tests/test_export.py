"""ONNX export: real ONNX Runtime sessions on tiny models, dynamic axes, fusion, int8, layout, self-check, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_student_config, tiny_teacher_config
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertForMaskedLM,
    BertForQuestionAnswering,
    RobertaConfig,
    RobertaModel,
)

from hf_tinybert import TinyBertForSequenceClassification, TinyBertModel
from hf_tinybert.cli import export as export_cli
from hf_tinybert.export import EvalSet, export_onnx, load_eval_set, onnx_head, onnx_session
from hf_tinybert.export.onnx import CHECK_FILE, FP32_TOLERANCE, ONNX_TASKS, onnx_feed
from hf_tinybert.modeling.heads import HEADS

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_TINYBERT_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
TEXTS = ["the movie was good", "a bad film", "really boring plot", "fun and charming", "the worst actors"] * 8
LABELS = [1, 0, 0, 1, 0] * 8


def _save(model, folder: Path, tokenizer_dir: Path | None) -> Path:
    model.save_pretrained(folder)
    if tokenizer_dir is not None:
        AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def seq_cls_dir(tmp_path_factory, tiny_tokenizer_dir):
    torch.manual_seed(3)
    # a wide initialisation so that the random classifier predicts both classes
    model = TinyBertForSequenceClassification(tiny_student_config(num_labels=2, initializer_range=0.3))
    return _save(model, tmp_path_factory.mktemp("seq_cls"), tiny_tokenizer_dir)


@pytest.fixture(scope="module")
def seq_cls_export(seq_cls_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("seq_cls_onnx") / "onnx"
    return export_onnx(seq_cls_dir, out, optimize=True, quantize=True, eval_set=(TEXTS, LABELS))


def _torch_and_onnx(model, session, encodings, names):
    with torch.inference_mode():
        out = model(**encodings, return_dict=True)
    reference = [out[name].numpy() for name in names]
    return reference, session.run(list(names), onnx_feed(session, encodings))


def _random_batch(vocab_size, batch, seq, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (batch, seq), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, seq // 2 :] = 0
    types = torch.zeros_like(ids)
    types[:, seq // 3 :] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def test_sequence_classification_layout_and_check(seq_cls_export, seq_cls_dir):
    out = seq_cls_export.output_dir
    names = {p.name for p in out.iterdir()}
    assert {"model.onnx", "model_optimized.onnx", "model_quantized.onnx", "config.json", "tokenizer.json"} <= names
    assert CHECK_FILE in names
    saved = json.loads((out / CHECK_FILE).read_text())
    assert saved == json.loads(json.dumps(seq_cls_export.check))
    assert saved["task"] == "text-classification" and saved["model_type"] == "tinybert" and saved["opset"] == 17
    assert saved["passed"] is True and seq_cls_export.passed
    assert saved["tolerance"] == FP32_TOLERANCE * max(1.0, saved["pytorch"]["max_abs_output"])
    for variant in ("fp32", "optimized"):
        assert saved["variants"][variant]["max_abs_diff"] < FP32_TOLERANCE
    int8 = saved["variants"]["int8"]
    model = TinyBertForSequenceClassification.from_pretrained(seq_cls_dir).eval()
    encodings = AutoTokenizer.from_pretrained(seq_cls_dir)(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        scale = model(**encodings).logits.abs().max().item()
    # int8 activations on a 24-wide random model cost ~15 % of the logit scale; real models lose far less
    assert 0 < int8["max_abs_diff"] < 0.25 * scale
    assert int8["label_agreement"] >= 0.9
    assert int8["accuracy_drop"] == pytest.approx(saved["pytorch"]["accuracy"] - int8["accuracy"])
    assert saved["inputs"].startswith(f"{len(TEXTS)} examples")
    assert sum(saved["pytorch"]["predicted_label_counts"].values()) == len(TEXTS)
    # the fused graph really is fused
    assert saved["fused_operators"].get("Attention", 0) == 2
    # config.json beside the model: loadable, same labels
    assert AutoConfig.from_pretrained(out).num_labels == 2


def test_int8_check_is_meaningful_random_model_predicts_both_classes(seq_cls_dir):
    model = TinyBertForSequenceClassification.from_pretrained(seq_cls_dir).eval()
    encodings = AutoTokenizer.from_pretrained(seq_cls_dir)(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        predictions = model(**encodings).logits.argmax(-1)
    assert len(set(predictions.tolist())) == 2, "the label agreement check needs a model that predicts both classes"


@pytest.mark.parametrize("variant", ["model.onnx", "model_optimized.onnx", "model_quantized.onnx"])
def test_dynamic_axes_other_batch_and_sequence_sizes(seq_cls_export, seq_cls_dir, variant):
    model = TinyBertForSequenceClassification.from_pretrained(seq_cls_dir).eval()
    session = onnx_session(seq_cls_export.output_dir / variant)
    for batch, seq in [(1, 5), (7, 41), (4, 128)]:  # traced with 2 x 16
        reference, outputs = _torch_and_onnx(
            model, session, _random_batch(model.config.vocab_size, batch, seq), ["logits"]
        )
        assert outputs[0].shape == (batch, 2)
        scale = np.abs(reference[0]).max()
        tolerance = 0.25 * scale if variant == "model_quantized.onnx" else FP32_TOLERANCE
        np.testing.assert_allclose(outputs[0], reference[0], atol=tolerance)


def test_question_answering_plain_bert(tmp_path, tiny_tokenizer_dir):
    torch.manual_seed(0)
    model = BertForQuestionAnswering(tiny_teacher_config()).eval()
    folder = _save(model, tmp_path / "qa", tiny_tokenizer_dir)
    result = export_onnx(folder, tmp_path / "qa_onnx", quantize=True)
    assert result.check["task"] == "question-answering" and result.check["model_type"] == "bert"
    assert result.passed
    session = onnx_session(result.files["fp32"])
    assert [o.name for o in session.get_outputs()] == ["start_logits", "end_logits"]
    reference, outputs = _torch_and_onnx(
        model, session, _random_batch(model.config.vocab_size, 3, 29), ["start_logits", "end_logits"]
    )
    for got, want in zip(outputs, reference):
        assert got.shape == (3, 29)
        np.testing.assert_allclose(got, want, atol=FP32_TOLERANCE)
    int8 = onnx_session(result.files["int8"])
    _, quantized = _torch_and_onnx(
        model, int8, _random_batch(model.config.vocab_size, 3, 29), ["start_logits", "end_logits"]
    )
    np.testing.assert_allclose(quantized[0], reference[0], atol=0.25 * np.abs(reference[0]).max())


def test_base_model_tinybert_student(tmp_path, tiny_tokenizer_dir):
    torch.manual_seed(0)
    model = TinyBertModel(tiny_student_config()).eval()
    folder = _save(model, tmp_path / "base", tiny_tokenizer_dir)
    result = export_onnx(folder, tmp_path / "base_onnx")
    assert result.check["task"] == "feature-extraction" and result.passed
    session = onnx_session(result.files["fp32"])
    names = ["last_hidden_state", "pooler_output"]
    assert [o.name for o in session.get_outputs()] == names
    reference, outputs = _torch_and_onnx(model, session, _random_batch(model.config.vocab_size, 2, 11), names)
    assert outputs[0].shape == (2, 11, 24) and outputs[1].shape == (2, 24)
    for got, want in zip(outputs, reference):
        np.testing.assert_allclose(got, want, atol=FP32_TOLERANCE)


def test_export_of_a_loaded_model_restores_its_state(tmp_path, tiny_tokenizer):
    model = TinyBertForSequenceClassification(tiny_student_config(num_labels=3))
    model.train()
    attention = model.config._attn_implementation
    result = export_onnx(model, tmp_path / "onnx", tokenizer=tiny_tokenizer)
    assert result.passed
    assert model.training and model.config._attn_implementation == attention
    encoder = export_onnx(model, tmp_path / "encoder", tokenizer=tiny_tokenizer, task="feature-extraction")
    assert encoder.passed and encoder.check["architecture"] == "BertModel"
    assert [o.name for o in onnx_session(encoder.files["fp32"]).get_outputs()] == ["last_hidden_state", "pooler_output"]
    with pytest.raises(ValueError, match="does not match"):
        export_onnx(model, tmp_path / "qa", tokenizer=tiny_tokenizer, task="question-answering")


def test_overwrite(seq_cls_dir, tmp_path):
    out = tmp_path / "onnx"
    export_onnx(seq_cls_dir, out, quantize=True)
    with pytest.raises(ValueError, match="overwrite=True"):
        export_onnx(seq_cls_dir, out)
    export_onnx(seq_cls_dir, out, overwrite=True)
    assert not (out / "model_quantized.onnx").exists(), "a stale int8 file must not survive a new export"
    assert (out / "model.onnx").exists()


# ----------------------------------------------------------------------------------- eval sets


def test_glue_tsv_eval_set(seq_cls_dir, tmp_path):
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("sentence\tlabel\n" + "".join(f"{t} \t{y}\n" for t, y in zip(TEXTS, LABELS)), encoding="utf-8")
    examples = load_eval_set(tsv, num_labels=2)
    assert examples.texts[0] == "the movie was good" and examples.labels == LABELS and examples.text_pairs is None
    result = export_onnx(seq_cls_dir, tmp_path / "onnx", quantize=True, eval_set=tsv, max_eval_examples=10)
    assert result.check["inputs"] == f"10 examples of {tsv}"
    # the check's PyTorch accuracy is the model's own on those 10 examples
    model = AutoModelForSequenceClassification.from_pretrained(seq_cls_dir).eval()
    batch = AutoTokenizer.from_pretrained(seq_cls_dir)(TEXTS[:10], padding=True, return_tensors="pt")
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    expected = sum(p == y for p, y in zip(predicted, LABELS[:10])) / 10
    assert result.check["pytorch"]["accuracy"] == pytest.approx(expected)


def test_pair_tsv_with_label_names(tmp_path):
    tsv = tmp_path / "rte.tsv"
    tsv.write_text(
        'index\tsentence1\tsentence2\tlabel\n0\tA "quoted" man.\tA man.\tentailment\n1\tx\ty\tnot_entailment\n',
        encoding="utf-8",
    )
    examples = load_eval_set(tsv, num_labels=2)
    assert examples.texts == ['A "quoted" man.', "x"] and examples.text_pairs == ["A man.", "y"]
    assert examples.labels == [0, 1]
    named = load_eval_set(tsv, label2id={"not_entailment": 0, "entailment": 1}, num_labels=2)
    assert named.labels == [1, 0], "the model's own label names win over GLUE's"


def test_real_sst2_dev_file():
    dev = DATA_DIR / "glue" / "SST-2" / "dev.tsv"
    if not dev.is_file():
        pytest.skip(f"shared data not found at {dev}")
    examples = load_eval_set(dev, num_labels=2)
    assert len(examples) == 872 and sum(examples.labels) == 444


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ((["a", "b"], [0]), "2 inputs but 1 labels"),
        ((["a"], ["positive"]), "Unknown label 'positive'"),
        ((["a"], [5]), "out of range"),
        (([1, 2], [0, 1]), "list of texts"),
        (EvalSet([], None, [], "empty"), "no examples"),
    ],
)
def test_bad_eval_sets(source, message):
    with pytest.raises(ValueError, match=message):
        load_eval_set(source, num_labels=2)


def test_tsv_without_known_columns(tmp_path):
    tsv = tmp_path / "x.tsv"
    tsv.write_text("text\ttarget\nhello\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        load_eval_set(tsv)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_eval_set(tmp_path / "missing.tsv")


# ----------------------------------------------------------------------------------- bad input


def test_folder_without_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        export_onnx(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(tmp_path / "nowhere", tmp_path / "out")
    config_only = tmp_path / "config_only"
    tiny_student_config().save_pretrained(config_only)
    with pytest.raises(FileNotFoundError, match="No model weights"):
        export_onnx(config_only, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing may be written for bad input"


def test_missing_tokenizer(tmp_path):
    folder = _save(TinyBertForSequenceClassification(tiny_student_config(num_labels=2)), tmp_path / "m", None)
    with pytest.raises(FileNotFoundError, match="No tokenizer"):
        export_onnx(folder, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="No tokenizer"):
        export_onnx(folder, tmp_path / "out", tokenizer=tmp_path)


def test_unsupported_architecture_and_model_type(tmp_path, tiny_tokenizer_dir):
    mlm = _save(BertForMaskedLM(tiny_teacher_config()), tmp_path / "mlm", tiny_tokenizer_dir)
    with pytest.raises(ValueError, match="BertForMaskedLM.*not supported.*feature-extraction"):
        export_onnx(mlm, tmp_path / "out")
    # the encoder of any BERT checkpoint can still be exported
    assert export_onnx(mlm, tmp_path / "out", task="feature-extraction").passed
    roberta = _save(
        RobertaModel(
            RobertaConfig(
                vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
            )
        ),
        tmp_path / "roberta",
        tiny_tokenizer_dir,
    )
    with pytest.raises(ValueError, match="'roberta' is not supported.*bert, tinybert"):
        export_onnx(roberta, tmp_path / "out2")
    with pytest.raises(ValueError, match="Unknown ONNX task 'ner'"):
        export_onnx(mlm, tmp_path / "out3", task="ner")
    with pytest.raises(ValueError, match="Unknown exporter"):
        export_onnx(mlm, tmp_path / "out3", exporter="tf2onnx")
    # optimum's exporter (optimum-onnx 0.1) needs transformers < 4.58: refused, saying why
    with pytest.raises(
        ValueError, match=r"exporter='optimum' is not available.*transformers < 4\.58.*exporter='torch'"
    ):
        export_onnx(mlm, tmp_path / "out3", exporter="optimum")
    with pytest.raises(ValueError, match="text-classification exports only"):
        export_onnx(mlm, tmp_path / "out3", task="feature-extraction", eval_set=(["a"], [0]))
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_onnx_task_of_an_architecture_comes_from_the_head_table():
    assert onnx_head("TinyBertForSequenceClassification").pipeline_tag == "text-classification"
    assert onnx_head("BertForQuestionAnswering").pipeline_tag == "question-answering"
    assert onnx_head("BertModel").pipeline_tag == "feature-extraction"
    assert onnx_head(None).pipeline_tag == "feature-extraction"
    assert onnx_head("TinyBertForSequenceClassification") is HEADS["sequence-classification"]
    assert ONNX_TASKS == ("text-classification", "question-answering", "feature-extraction")
    for architecture in ("BertForTokenClassification", "BertForMaskedLM", "BertForMultipleChoice"):
        with pytest.raises(ValueError, match=f"{architecture}.*not supported for ONNX export"):
            onnx_head(architecture)


# ----------------------------------------------------------------------------------- CLI


def test_cli_export(seq_cls_dir, tmp_path, capsys):
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in zip(TEXTS, LABELS)), encoding="utf-8")
    out = tmp_path / "cli"
    status = export_cli.main([str(seq_cls_dir), "--output_dir", str(out), "--quantize", "--eval_set", str(tsv)])
    printed = capsys.readouterr().out
    assert status == 0
    check = json.loads((out / CHECK_FILE).read_text())
    assert f"max |delta| {check['variants']['int8']['max_abs_diff']:.3g}" in printed
    assert "label agreement" in printed and "passed" in printed
    assert export_cli.main([str(seq_cls_dir), "--output_dir", str(out)]) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err
    assert export_cli.main(["--help"]) == 0
    assert export_cli.main([str(tmp_path / "missing"), "--output_dir", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
