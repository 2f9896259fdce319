"""Inference benchmark: FLOPs formula against a hand count and torch's FLOP counter, shapes, report files. No timings asserted."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import tiny_student_config, tiny_teacher_config
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForSequenceClassification

from hf_tinybert import TinyBertConfig, TinyBertForQuestionAnswering, TinyBertForSequenceClassification, TinyBertModel
from hf_tinybert.cli import benchmark as benchmark_cli
from hf_tinybert.export.benchmark import RUNTIMES, load_report, run_benchmark, write_report
from hf_tinybert.export.model_size import MODEL_SHAPES, config_for_shape, count_parameters, encoder_flops


def test_flops_hand_count():
    config = BertConfig(num_hidden_layers=2, hidden_size=4, intermediate_size=8, num_attention_heads=2, num_labels=2)
    # per layer, S=5: QKV+output 4*S*H^2 = 320, QK^T and AV 2*S^2*H = 200, FFN 2*S*H*F = 320 -> 840 multiply-adds
    # 2 layers 1680; pooler H^2 = 16, classifier H*2 = 8; x batch 3 x 2 FLOPs per multiply-add
    assert encoder_flops(config, 3, 5) == 2 * 3 * (2 * 840 + 16 + 8)
    # question answering: span head 2*S*H = 40, no pooler; bare encoder: pooler only
    assert encoder_flops(config, 3, 5, task="question-answering") == 2 * 3 * (2 * 840 + 40)
    assert encoder_flops(config, 3, 5, task="feature-extraction") == 2 * 3 * (2 * 840 + 16)


@pytest.mark.parametrize(
    ("model_class", "task"),
    [
        (TinyBertForSequenceClassification, "text-classification"),
        (TinyBertForQuestionAnswering, "question-answering"),
        (TinyBertModel, "feature-extraction"),
    ],
)
def test_flops_match_torch_flop_counter(model_class, task):
    config = tiny_student_config(num_labels=2 if task == "question-answering" else 3)
    model = model_class(config).eval()
    model.set_attn_implementation("eager")  # matmuls the counter sees (sdpa is counted by its own formula)
    ids = torch.randint(0, config.vocab_size, (3, 7))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids)
    assert encoder_flops(model.config, 3, 7, task=task) == counter.get_total_flops()


def test_paper_shapes_flops_ratio_and_sizes():
    base, tiny = config_for_shape("bert-base"), config_for_shape("tinybert-4l-312d")
    assert isinstance(tiny, TinyBertConfig) and tiny.num_hidden_layers == 4 and tiny.hidden_size == 312
    ratio = encoder_flops(base, 32, 64) / encoder_flops(tiny, 32, 64)
    assert 18.0 < ratio < 18.7  # ~18.66 for the linear layers alone, a bit less with the S^2 attention terms
    with torch.device("meta"):
        params = (
            count_parameters(BertForSequenceClassification(base)),
            count_parameters(TinyBertForSequenceClassification(tiny)),
        )
    assert round(params[0] / 1e6, 1) == 109.5 and round(params[1] / 1e6, 1) == 14.4  # the reference note's counts
    assert set(MODEL_SHAPES) >= {"bert-base", "minilm-l6-h384", "tinybert-4l-312d", "tinybert-6l-768d"}


def test_bad_shapes_and_arguments():
    with pytest.raises(ValueError, match="Unknown model shape 'bert-huge'.*bert-base"):
        config_for_shape("bert-huge")
    with pytest.raises(ValueError, match="Unknown task"):
        encoder_flops(config_for_shape("bert-base"), 1, 8, task="ner")
    with pytest.raises(ValueError, match="Unknown runtimes"):
        run_benchmark(["bert-base"], runtimes=["tensorrt"])
    with pytest.raises(ValueError, match="neither a known shape"):
        run_benchmark(["no-such-model"])
    with pytest.raises(ValueError, match="Workloads"):
        run_benchmark(["bert-base"], workloads=[(0, 8)])


@pytest.fixture(scope="module")
def tiny_report():
    torch.manual_seed(0)
    models = [
        ("teacher", BertForSequenceClassification(tiny_teacher_config(num_labels=2))),
        ("student", TinyBertForSequenceClassification(tiny_student_config(num_labels=2))),
    ]
    return run_benchmark(models, workloads=[(1, 16), (4, 8)], warmup=1, repeats=2, threads=1)


def test_report_rows(tiny_report):
    rows = tiny_report.rows
    assert len(rows) == 2 * len(RUNTIMES) * 2
    assert {(r.model, r.runtime) for r in rows} == {(m, rt) for m in ("teacher", "student") for rt in RUNTIMES}
    teacher = tiny_report.row("teacher", "pytorch", (4, 8))
    assert teacher.flops == encoder_flops(tiny_teacher_config(num_labels=2), 4, 8)
    assert teacher.parameters == count_parameters(BertForSequenceClassification(tiny_teacher_config(num_labels=2)))
    assert teacher.throughput == pytest.approx(4 / (teacher.latency_ms / 1e3))
    assert teacher.latency_ms_min <= teacher.latency_ms
    fp32, int8 = tiny_report.row("teacher", "onnx-fp32", (4, 8)), tiny_report.row("teacher", "onnx-int8", (4, 8))
    assert int8.file_size_bytes < fp32.file_size_bytes
    assert tiny_report.settings["threads"] == 1 and tiny_report.settings["repeats"] == 2
    with pytest.raises(ValueError, match="No benchmark row.*measured models"):
        tiny_report.row("teacher", "pytorch", (9, 9))


def test_comparison_is_the_latency_ratio(tiny_report):
    comparison = tiny_report.compare(("teacher", "pytorch"), ("student", "onnx-int8"), (4, 8), target=1e9)
    base, cand = tiny_report.row("teacher", "pytorch", (4, 8)), tiny_report.row("student", "onnx-int8", (4, 8))
    assert comparison.speedup == pytest.approx(base.latency_ms / cand.latency_ms)
    assert comparison.speedup_fastest == pytest.approx(base.latency_ms_min / cand.latency_ms_min)
    assert comparison.flops_ratio == pytest.approx(base.flops / cand.flops)
    assert comparison.target_met is False  # nothing is a billion times faster


def test_report_files(tiny_report, tmp_path):
    tiny_report.comparisons.append(tiny_report.compare(("teacher", "pytorch"), ("student", "pytorch"), (1, 16)))
    paths = write_report(tiny_report, tmp_path / "bench")
    data = json.loads(paths["json"].read_text())
    assert len(data["rows"]) == len(tiny_report.rows) and data["comparisons"][0]["candidate"] == ["student", "pytorch"]
    markdown = paths["markdown"].read_text()
    assert markdown.startswith("| model | runtime | params (M) | file (MB) | GFLOPs 1x16 |")
    assert markdown.count("\n| teacher |") == 3 and "| student (pytorch) | teacher (pytorch) | 1x16 |" in markdown
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = load_report(paths["json"])
    assert again.rows == tiny_report.rows and again.comparisons == tiny_report.comparisons


def test_cli_benchmark(tmp_path, capsys, tiny_tokenizer_dir):
    folder = tmp_path / "student"
    TinyBertForSequenceClassification(tiny_student_config(num_labels=2)).save_pretrained(folder)
    teacher = tmp_path / "teacher"
    BertForSequenceClassification(tiny_teacher_config(num_labels=2)).save_pretrained(teacher)
    out = tmp_path / "out"
    argv = [
        f"t={teacher}",
        str(folder),
        "--output_dir",
        str(out),
        "--workloads",
        "2x8",
        "--repeats",
        "1",
        "--threads",
        "1",
    ]
    assert benchmark_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| student (onnx-int8) | t (pytorch) | 2x8 |" in printed
    assert {p.name for p in out.iterdir()} == {"benchmark.json", "benchmark.md", "benchmark.png"}
    assert benchmark_cli.main(argv) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err
    assert benchmark_cli.main([*argv, "--baseline", "nobody"]) == 2
    assert benchmark_cli.main([str(folder), "--output_dir", str(out), "--workloads", "32by64"]) == 2
    assert benchmark_cli.main(["--help"]) == 0
