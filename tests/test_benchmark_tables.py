"""What every benchmark table records about the machine (`hf_tinybert.utils.LoadRecord`), the general distillation
throughput script with fp32 and auto side by side (a real, tiny run), and the precision comparison's report."""

from __future__ import annotations

import json

import pytest
from conftest import load_benchmark

from hf_tinybert.utils import LoadRecord


def test_a_busy_machine_is_said_in_the_first_line_under_the_title():
    quiet, busy = LoadRecord(0.3, 2.1, cores=2), LoadRecord(1.4, 2.0, cores=2)
    assert not quiet.busy and quiet.warning() is None
    assert quiet.header(["# T", "", "body"]) == ["# T", "", "body"]
    assert busy.busy and busy.header(["# T", "", "body"])[2].startswith("**Measured on a busy machine")
    assert "1.40" in busy.warning() and "0.30 / 2.10 on 2 cores" in quiet.sentence()
    assert LoadRecord.start().finish().to_dict().keys() == {"load_before", "load_after", "cores", "busy"}


@pytest.mark.slow
def test_throughput_script_measures_both_precisions_and_rewrites_the_scaling_table(tmp_path, monkeypatch):
    script = load_benchmark("general_distill_throughput")
    monkeypatch.setattr(script, "SEQ", 16)
    scaling = tmp_path / "scaling.md"
    scaling.write_text("prose\n<!-- throughput:start -->\nold\n<!-- throughput:end -->\nmore prose\n")
    output = tmp_path / "throughput.md"
    assert script.main(["--batch", "1", "--rounds", "1", "--output", str(output), "--scaling", str(scaling)]) == 0
    result = json.loads(output.with_suffix(".json").read_text())
    assert set(result["precisions"]) == {"fp32", "auto"}
    assert result["precisions"]["fp32"]["teacher_dtype"] == "float32"
    assert result["precisions"]["fp32"]["autocast"] == "none"
    auto = result["precisions"]["auto"]
    assert auto["decision"].startswith("precision ")
    assert (auto["teacher_dtype"] == "bfloat16") == auto["decision"].startswith("precision bf16")
    table = output.read_text()
    assert "Machine load (1-minute average) at the start / end" in table and "| `--precision auto` |" in table
    text = scaling.read_text()
    assert text.startswith("prose\n") and text.endswith("more prose\n") and "old" not in text
    assert "| `auto` |" in text and "| `fp32` |" in text
    with pytest.raises(ValueError, match="markers"):
        script.replace_between_markers("no markers", "throughput", "x")


def _record(wall, busy=False):
    return {"wall_s": wall, "load": {"load_before": 1.5 if busy else 0.1, "load_after": 2, "cores": 2, "busy": busy}}


def test_precision_comparison_checks_the_targets_against_the_measurements():
    script = load_benchmark("precision_comparison")
    demo = {
        "fp32": {**_record(200), "training_step_s": 150, "total_step_s": 190, "teacher_accuracy": 0.95,
                 "student_accuracy": 0.94},
        "auto": {**_record(150), "training_step_s": 90, "total_step_s": 140, "teacher_accuracy": 0.95,
                 "student_accuracy": 0.90},
    }  # fmt: skip
    glue = {
        "fp32": {**_record(600), "stage_wall_s": 500, "accuracy": {"teacher": 80.0, "tinybert": 77.0},
                 "stage_seconds": {"teacher": 100, "tinybert": 400}},
        "auto": {**_record(300, busy=True), "stage_wall_s": 300, "accuracy": {"teacher": 80.5, "tinybert": 76.5},
                 "stage_seconds": {"teacher": 60, "tinybert": 240}},
    }  # fmt: skip
    text = script.render({"demo": demo, "glue": glue, "rows": "tinybert"}, None)
    assert "busy machine (glue auto" in text.splitlines()[2]
    assert "wall time with auto <= 0.6x fp32: **not met** (0.75x)" in text
    assert "student accuracy within 1 point: **not met**" in text
    assert "TinyBERT row within 1 point: **met**" in text and "<= 0.65x: **met** (0.60x)" in text
    assert "| `tinybert` dev accuracy (%) | 77.0 | 76.5 | -0.5 pt |" in text
