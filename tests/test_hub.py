"""Publishing: the real huggingface_hub client against a local Hub server, then from_pretrained back in a fresh process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import assert_user_error, tiny_student_config, tiny_teacher_config
from hub_server import LocalHub
from transformers import AutoTokenizer, BertForSequenceClassification

from hf_tinybert import TinyBertForSequenceClassification
from hf_tinybert.cli import push as push_cli
from hf_tinybert.hub.card import FACTS_FILE, ModelCardFacts
from hf_tinybert.hub.push import push_student

TOKEN = "hf_pushSECRETabcdef0123456789"
TEXTS = ["the movie was good", "a really bad film"]
STUDENT_FILES = {
    "README.md",
    "config.json",
    "configuration_tinybert.py",
    "model.safetensors",
    "modeling_tinybert.py",
    "tokenizer.json",
    "tokenizer_config.json",
}


@pytest.fixture
def online(monkeypatch):
    """The tests' session is offline (HF_HUB_OFFLINE=1); pushing to the local server needs the client online."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub():
    with LocalHub() as server:
        yield server


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory, tiny_tokenizer_dir):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("student")
    model = TinyBertForSequenceClassification(tiny_student_config(num_labels=2, initializer_range=0.2))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer_dir).save_pretrained(folder)
    # training leftovers that must stay home
    (folder / "training_args.bin").write_bytes(b"pickle")
    (folder / "distill_projections.safetensors").write_bytes(b"projections")
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "optimizer.pt").write_bytes(b"state")
    return folder


def _local_logits(folder) -> list[list[float]]:
    model = TinyBertForSequenceClassification.from_pretrained(folder).eval()
    encodings = AutoTokenizer.from_pretrained(folder)(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**encodings).logits.tolist()


DOWNLOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, onnxruntime, torch
    from huggingface_hub import hf_hub_download
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    repo, texts = sys.argv[1], json.loads(sys.argv[2])
    assert "hf_tinybert" not in sys.modules
    tokenizer = AutoTokenizer.from_pretrained(repo, trust_remote_code=True)
    encodings = tokenizer(texts, padding=True, return_tensors="pt")
    results = {}
    remote = AutoModelForSequenceClassification.from_pretrained(repo, trust_remote_code=True).eval()
    plain = AutoModelForSequenceClassification.from_pretrained(repo, subfolder="plain-bert").eval()
    with torch.inference_mode():
        results["remote_code"] = remote(**encodings).logits.tolist()
        results["plain_bert"] = plain(**encodings).logits.tolist()
    results["remote_class"] = type(remote).__name__
    results["plain_class"] = type(plain).__module__ + "." + type(plain).__name__
    session = onnxruntime.InferenceSession(hf_hub_download(repo, "onnx/model.onnx"), providers=["CPUExecutionProvider"])
    feed = {k: v.numpy().astype(np.int64) for k, v in encodings.items()}
    results["onnx"] = session.run(["logits"], feed)[0].tolist()
    results["hf_tinybert_imported"] = "hf_tinybert" in sys.modules
    print("RESULTS" + json.dumps(results))
    """
)


@pytest.mark.slow
def test_push_then_download_in_a_fresh_process(student_dir, hub, online, tmp_path):
    result = push_student(
        student_dir, "me/tiny-student", token=TOKEN, endpoint=hub.url, include_plain_bert=True, include_onnx=True
    )
    files = hub.files("me/tiny-student")
    assert set(result.files) == set(files)
    assert set(files) >= STUDENT_FILES
    assert {
        "plain-bert/config.json",
        "plain-bert/model.safetensors",
        "onnx/model.onnx",
        "onnx/model_quantized.onnx",
    } <= set(files)
    assert {"onnx/config.json", "onnx/tokenizer.json", "onnx/export_check.json"} <= set(files)
    assert not any(name.startswith("checkpoint") or "training_args" in name or "projections" in name for name in files)
    assert result.commit_oid == hub.repositories["me/tiny-student"].sha
    assert result.commit_url.endswith(f"/me/tiny-student/commit/{result.commit_oid}")
    assert json.loads(files["plain-bert/config.json"])["model_type"] == "bert"
    card = files["README.md"].decode()
    assert 'from_pretrained("me/tiny-student", trust_remote_code=True)' in card
    assert 'subfolder="plain-bert"' in card and "onnx/model.onnx" in card

    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,  # read when huggingface_hub is imported, hence the fresh process
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", DOWNLOAD_SCRIPT, "me/tiny-student", json.dumps(TEXTS)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULTS"))
    downloaded = json.loads(line[len("RESULTS") :])
    expected = torch.tensor(_local_logits(student_dir))
    assert downloaded["hf_tinybert_imported"] is False
    assert downloaded["remote_class"] == "TinyBertForSequenceClassification"
    assert downloaded["plain_class"] == "transformers.models.bert.modeling_bert.BertForSequenceClassification"
    for key in ("remote_code", "plain_bert"):
        torch.testing.assert_close(torch.tensor(downloaded[key]), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(downloaded["onnx"]), expected, atol=1e-4, rtol=0)
    # the client really downloaded from the local server
    assert any(r.method == "GET" and r.path.endswith("/model.safetensors") for r in hub.requests)


def test_token_never_leaks(student_dir, hub, online, caplog, capfd, tmp_path):
    caplog.set_level(logging.DEBUG)
    for name in ("huggingface_hub", "hf_tinybert", "transformers"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        result = push_student(student_dir, "me/secret-check", token=TOKEN, endpoint=hub.url, private=True)
    finally:
        for name in ("huggingface_hub", "hf_tinybert", "transformers"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    captured = capfd.readouterr()
    # the token was really used: the client sent it to the server ...
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub.requests)
    assert hub.repositories["me/secret-check"].private
    # ... and it is nowhere else: logs, console, uploaded files, request bodies, the card, the result
    assert caplog.records, "debug logging was on: the check must see records"
    assert TOKEN not in caplog.text and TOKEN not in captured.out and TOKEN not in captured.err
    assert all(TOKEN.encode() not in content for content in hub.files("me/secret-check").values())
    assert TOKEN.encode() not in hub.received_bytes()
    assert TOKEN not in hub.files("me/secret-check")["README.md"].decode()
    assert TOKEN not in repr(result)


class EchoingHub(LocalHub):
    """A server whose error messages quote the Authorization header (as a careless proxy might)."""

    def start(self):
        super().start()
        handler = self._server.RequestHandlerClass
        original = handler._commit

        def rejecting_commit(self, repo_id, body):
            if "fail" in repo_id:
                return self._json(403, {"error": f"token {self.headers.get('authorization')} may not write here"})
            return original(self, repo_id, body)

        handler._commit = rejecting_commit
        return self


def test_error_messages_are_scrubbed(student_dir, online):
    with EchoingHub() as hub, pytest.raises(RuntimeError) as error:
        push_student(student_dir, "me/fail", token=TOKEN, endpoint=hub.url)
    assert "403" in str(error.value) or "may not write" in str(error.value)
    assert TOKEN not in str(error.value) and "<token>" in str(error.value)


def test_card_rendered_from_saved_facts(student_dir, hub, online, tmp_path):
    import shutil

    folder = tmp_path / "with_facts"
    shutil.copytree(student_dir, folder)
    ModelCardFacts(
        model_name="tiny-sst2", teacher_id="google-bert/bert-base-uncased", eval_results={"accuracy": 0.9}
    ).save(folder / FACTS_FILE)
    push_student(folder, "me/with-facts", token=TOKEN, endpoint=hub.url)
    files = hub.files("me/with-facts")
    card = files["README.md"].decode()
    assert "base_model: google-bert/bert-base-uncased" in card and "# tiny-sst2" in card
    assert 'from_pretrained("me/with-facts", trust_remote_code=True)' in card
    assert FACTS_FILE not in files

    (folder / FACTS_FILE).unlink()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# My own card\n")
    push_student(folder, "me/with-facts", token=TOKEN, endpoint=hub.url, commit_message="second")
    assert hub.files("me/with-facts")["README.md"].decode().endswith("# My own card\n")
    assert len(hub.repositories["me/with-facts"].commits) == 2


def test_plain_bert_model_gets_no_remote_code(tmp_path, tiny_tokenizer_dir, hub, online):
    folder = tmp_path / "bert"
    BertForSequenceClassification(tiny_teacher_config(num_labels=2)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer_dir).save_pretrained(folder)
    result = push_student(folder, "me/plain", token=TOKEN, endpoint=hub.url, include_plain_bert=True)
    assert not any(name.endswith(".py") or name.startswith("plain-bert/") for name in result.files)


# ----------------------------------------------------------------------------------- bad input


def test_bad_input_fails_before_any_request(student_dir, hub, online, tmp_path, monkeypatch):
    import huggingface_hub.constants

    for repo_id in ("bad//id", "a/b/c", "spaces not allowed", ""):
        with pytest.raises(ValueError, match="Repository id"):
            push_student(student_dir, repo_id, token=TOKEN, endpoint=hub.url)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    with pytest.raises(ValueError, match="No Hugging Face token.*HF_TOKEN"):
        push_student(student_dir, "me/x", endpoint=hub.url)
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        push_student(tmp_path, "me/x", token=TOKEN, endpoint=hub.url)
    no_tokenizer = tmp_path / "no_tokenizer"
    TinyBertForSequenceClassification(tiny_student_config(num_labels=2)).save_pretrained(no_tokenizer)
    with pytest.raises(FileNotFoundError, match="No tokenizer"):
        push_student(no_tokenizer, "me/x", token=TOKEN, endpoint=hub.url)
    (no_tokenizer / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="No safetensors weights"):
        push_student(no_tokenizer, "me/x", token=TOKEN, endpoint=hub.url)
    assert hub.requests == []


def test_cli_push(student_dir, hub, online, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    status = push_cli.main([str(student_dir), "--repo_id", "me/cli", "--endpoint", hub.url])
    printed = capsys.readouterr().out
    assert status == 0
    assert f"/me/cli/commit/{hub.repositories['me/cli'].sha}" in printed and "model.safetensors" in printed
    assert TOKEN not in printed
    assert push_cli.main([str(student_dir), "--repo_id", "bad//id", "--endpoint", hub.url]) == 2
    assert "Repository id 'bad//id' is not valid" in capsys.readouterr().err
    assert push_cli.main(["--help"]) == 0


def test_distillation_trainer_push_to_hub_uploads_student_and_card(tmp_path, tiny_tokenizer_dir, hub, online):
    from datasets import Dataset

    from hf_tinybert import DistillationArguments, DistillationTrainer

    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_teacher_config(num_labels=2))
    student = TinyBertForSequenceClassification(tiny_student_config(num_labels=2))
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    data = Dataset.from_dict(dict(tokenizer(TEXTS * 4)) | {"labels": [1, 0] * 4})
    args = DistillationArguments(
        output_dir=str(tmp_path / "student"),
        hub_model_id="me/pushed",
        max_steps=2,
        use_cpu=True,
        report_to=[],
        per_device_train_batch_size=4,
        save_strategy="no",
        disable_tqdm=True,
        stage="joint",
    )

    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    trainer = DistillationTrainer(
        student,
        args,
        teacher_model=teacher,
        train_dataset=data,
        eval_dataset=data,
        processing_class=tokenizer,
        compute_metrics=accuracy,
    )
    trainer.train()
    trainer.evaluate()
    trainer.model_card_callback.facts.eval_dataset = {
        "id": "local/tiny",
        "name": "tiny",
        "config": "default",
        "split": "dev",
    }
    result = trainer.push_to_hub(token=TOKEN, endpoint=hub.url)
    files = hub.files("me/pushed")
    assert result.repo_id == "me/pushed"
    assert {"README.md", "model.safetensors", "modeling_tinybert.py", "tokenizer.json"} <= set(files)
    assert not any("projections" in name for name in files)  # the projections stay home
    card = files["README.md"].decode()
    assert "model-index" in card and "local/tiny" in card and TOKEN not in card
    index = card.split("model-index")[1].split("---")[0]
    assert "accuracy" in index and "loss" not in index  # the loss components describe the run, not the model
    assert "Stage 1: joint" in card and "`uniform`" in card  # the stage and its layer map


def test_push_offline_is_one_line_with_the_hint(student_dir):
    """The session is offline (HF_HUB_OFFLINE=1): the Hub client's OfflineModeIsEnabled, not its traceback."""
    line = assert_user_error("offline|Offline", ["push", str(student_dir), "--repo_id", "me/student", "--token", TOKEN])
    assert "HF_HUB_OFFLINE=1" in line and TOKEN not in line
