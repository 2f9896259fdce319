"""Charts of training runs and of a teacher against its students, as PNG files.

- `plot_loss_curves(runs, path) -> Path`: one panel per training run, each logged loss component (total,
  embeddings, attention, hidden states, predictions: `LOSS_LABELS`) against the training step. A run is what a
  Trainer leaves behind: its output folder (holding ``trainer_state.json``), the ``trainer_state.json`` file
  itself, a `transformers.TrainerState`, or its ``log_history`` list; missing files and folders are skipped, so a
  caller may name every run of a recipe before all have run. Any stage can call it at its end, e.g.
  ``plot_loss_curves({"general distillation": output_dir}, Path(output_dir) / "loss_curves.png")``.
- `load_log_history(run)`: the ``log_history`` entries of one such run (None when its file is missing).
- `plot_teacher_vs_student(comparison, path) -> Path`: bar charts of accuracy, weight-file size and latency per
  model (what the demo's summary holds under ``"models"``).

matplotlib is imported only inside the functions (with the non-interactive Agg backend); without it they raise an
ImportError that names the package to install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .utils import read_json

#: Logged loss keys -> their label in `plot_loss_curves` (what `DistillationTrainer` logs; "loss" alone for
#: plain fine-tuning).
LOSS_LABELS: dict[str, str] = {
    "loss": "total",
    "loss_emb": "embeddings",
    "loss_att": "attention",
    "loss_hidden": "hidden states",
    "loss_pred": "predictions",
}
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")
TRAINER_STATE = "trainer_state.json"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or pip install 'hf-tinybert[demo]')"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def load_log_history(run) -> list[dict] | None:
    """The ``log_history`` of a training run: a Trainer output folder, a ``trainer_state.json`` (its path or its
    content), a `TrainerState`, or the list itself. None when the folder holds no ``trainer_state.json`` or the
    file does not exist."""
    if isinstance(run, (str, os.PathLike)):
        path = Path(run)
        path = path / TRAINER_STATE if path.is_dir() else path
        return read_json(path)["log_history"] if path.is_file() else None
    if isinstance(run, Mapping):  # a trainer_state.json already read
        return list(run["log_history"])
    return list(getattr(run, "log_history", run))


def plot_loss_curves(
    runs: Mapping[str, object], path: str | os.PathLike, *, components: Mapping[str, str] = LOSS_LABELS, dpi: int = 110
) -> Path:
    """One panel per training run: each logged loss component against the training step.

    Args:
        runs: panel title -> a run (see `load_log_history`); runs whose files are missing are left out.
        path: the PNG to write (its folder is created).
        components: logged key -> curve label (default `LOSS_LABELS`); keys a run did not log are left out. The
            y axis is logarithmic when every plotted value of the panel is positive.
        dpi: resolution of the PNG.

    Returns:
        `path`.

    Raises:
        FileNotFoundError: none of the runs has a log history.
        ImportError: matplotlib is not installed.
    """
    histories = {title: history for title, run in runs.items() if (history := load_log_history(run)) is not None}
    if not histories:
        raise FileNotFoundError(f"None of the trainer states exists: {[str(r) for r in runs.values()]}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(histories), figsize=(4.3 * len(histories), 3.6), squeeze=False)
    for ax, (title, history) in zip(axes[0], histories.items()):
        positive, plotted = True, False
        for key, label in components.items():
            points = [(e["step"], e[key]) for e in history if key in e and "step" in e]
            if points:
                xs, ys = zip(*points)
                positive, plotted = positive and min(ys) > 0, True
                ax.plot(xs, ys, marker="o", markersize=3, label=label, linewidth=2.2 if key == "loss" else 1.2)
        if plotted:
            ax.legend(fontsize=8)
        else:  # e.g. a run shorter than its logging_steps
            ax.text(0.5, 0.5, "no loss was logged\n(fewer steps than --logging_steps?)", ha="center", va="center")
        if plotted and positive:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss" + (" (log scale)" if plotted and positive else ""))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    return _save(fig, path, dpi)


def _bars(ax, xs, ys, fmt: str, fontsize: int, **style) -> None:
    ax.bar_label(ax.bar(xs, ys, **style), fmt=fmt, fontsize=fontsize)


def plot_teacher_vs_student(comparison: dict, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Bar charts of accuracy, weight-file size and latency of the teacher and its students.

    Args:
        comparison: model label -> {"accuracy", "file_mb", "latency_ms": {workload label: ms}}; missing values
            are left out.
        path: the PNG to write (its folder is created).
        dpi: resolution of the PNG.

    Returns:
        `path`.

    Raises:
        ImportError: matplotlib is not installed.
    """
    plt = _pyplot()
    labels = list(comparison)
    colors = COLORS[: len(labels)]
    workloads = list(dict.fromkeys(w for m in comparison.values() for w in m.get("latency_ms", {})))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = (
        (axes[0], "dev accuracy (%)", lambda m: None if m.get("accuracy") is None else 100 * m["accuracy"]),
        (axes[1], "weights file (MB)", lambda m: m.get("file_mb")),
    )
    for ax, ylabel, value in panels:
        kept = [(label, value(comparison[label]), color) for label, color in zip(labels, colors)]
        kept = [k for k in kept if k[1] is not None]
        _bars(ax, [k[0] for k in kept], [k[1] for k in kept], "%.1f", 8, color=[k[2] for k in kept])
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", labelrotation=12, labelsize=8)
    latency_ax = axes[2]
    width = 0.8 / max(1, len(labels))
    for i, (label, color) in enumerate(zip(labels, colors)):
        latencies = comparison[label].get("latency_ms", {})
        offset = (i - (len(labels) - 1) / 2) * width
        measured = [(j + offset, latencies[w]) for j, w in enumerate(workloads) if w in latencies]
        if measured:
            _bars(latency_ax, *zip(*measured), "%.3g", 7, width=width, label=label, color=color)
    latency_ax.set_xticks(range(len(workloads)), [f"batch x seq {w}" for w in workloads])
    latency_ax.set_yscale("log")
    latency_ax.set_ylabel("median latency (ms, log scale)")
    latency_ax.legend(fontsize=8)
    for ax, title in zip(axes, ("accuracy", "size", "latency")):
        ax.set_title(title)
    return _save(fig, path, dpi)


__all__ = ["LOSS_LABELS", "load_log_history", "plot_loss_curves", "plot_teacher_vs_student"]
