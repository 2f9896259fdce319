"""The classroom notebook (examples/notebooks/tinybert_classroom.ipynb) runs top to bottom, offline, in its quick
setting, and says what it measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebooks" / "tinybert_classroom.ipynb"


def test_the_notebook_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)


@pytest.mark.slow
def test_the_notebook_runs_in_its_quick_setting(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("HF_TINYBERT_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("HF_TINYBERT_NOTEBOOK_DIR", str(tmp_path / "work"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()

    text = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "teacher dev accuracy:" in text and "student dev accuracy:" in text
    assert "x smaller and" in text and "export check passed: True" in text
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the loss curves
    work = tmp_path / "work"
    assert (work / "loss_curves.png").stat().st_size > 10_000
    assert (work / "student_onnx" / "model_quantized.onnx").is_file()
