"""The README's Python snippets run as written: each ```python block is executed in a fresh interpreter, in a
folder laid out as the README assumes (`runs/teacher-sst2` from `hf-tinybert finetune`, `../shared/data/glue`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import shared_data_dir

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_snippets():
    assert python_blocks()


@pytest.mark.slow
def test_the_readme_python_snippets_run_as_written(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hf_tinybert.stages import offline_teacher_path

    # the layout the README assumes: ../shared/data and a fine-tuned teacher in runs/teacher-sst2 (here the offline
    # MiniLM with an SST-2 head: the snippets must run; their accuracy is not what this test checks)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data_dir(), target_is_directory=True)
    work = tmp_path / "project"
    teacher = work / "runs" / "teacher-sst2"
    labels = {0: "negative", 1: "positive"}
    source = offline_teacher_path()
    model = AutoModelForSequenceClassification.from_pretrained(
        source, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    model.save_pretrained(teacher)
    AutoTokenizer.from_pretrained(source).save_pretrained(teacher)

    for number, code in enumerate(python_blocks()):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        assert result.returncode == 0, f"README python block {number} failed:\n{result.stderr[-3000:]}"
    assert "eval_accuracy" in result.stdout
    assert (work / "runs" / "student-prediction" / "model.safetensors").is_file()
