"""How every `hf-tinybert` command reads its flags: dataclasses through `HfArgumentParser` (so the stage commands
pass every `TrainingArguments` flag through, as in the transformers example scripts), `--config file.json|yaml`
whose values are defaults that flags override, and positional arguments (e.g. `export MODEL_DIR`) that may be
given as flags too (`--model_dir MODEL_DIR`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import yaml
from transformers import HfArgumentParser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each flag's help; the description and examples printed as written."""


def _read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config {path} does not exist")
    with open(path, encoding="utf-8") as f:
        values = yaml.safe_load(f) if path.endswith((".yaml", ".yml")) else json.load(f)
    if not isinstance(values, dict):
        raise ValueError(f"--config {path} must hold a mapping of flag names to values")
    return values


# Where the commands' defaults differ from the dataclasses' (the Python API keeps transformers' own):
COMMAND_DEFAULTS = {
    "precision": "auto",  # bf16 or fp32, whichever the machine the command runs on computes fast
    "logging_steps": 0.05,  # a ratio of the run's steps: 20 points on every loss_curves.png (500 steps leave a short
    # run's plot empty)
}


def split_list(values: list[str] | str | None) -> list[str] | None:
    """A list flag's values, accepting both list styles: `--text_columns a b` and `--text_columns a,b`."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else values
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def parse_arguments(
    dataclass_types,
    argv: list[str] | None,
    prog: str,
    doc: str,
    *,
    defaults: dict | None = None,
    command_options: dict[str, dict] | None = None,
    positionals: dict[str, str] | None = None,
):
    """Parse `argv` into instances of `dataclass_types`.

    Args:
        dataclass_types: the argument dataclasses, in order.
        argv: the command's arguments (without the command name).
        prog: the command, shown by `--help`.
        doc: the command module's docstring: its first paragraph is `--help`'s description, the rest its epilog.
        defaults: command-specific defaults (e.g. `{"stage": "general"}`), overridden by `--config` and flags.
        command_options: flags the command owns instead of a dataclass, as {name: {"choices", "default", "help"}}
            (e.g. task-distill's `--stage`, which adds `both`): the dataclass flag of that name is given these
            settings, its value (from flags, `--config` or the default) is taken out of the dataclasses' values and
            returned in a dict after the dataclass instances.
        positionals: {field: METAVAR} for fields that may also be given without their flag, in this order (a
            `list` field takes every remaining positional value).

    Raises:
        ValueError: a `--config` key that no dataclass knows (listing the valid ones).
        SystemExit: `--help`, or a usage error (argparse's message, exit status 2).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    description, _, epilog = (doc or "").strip().partition("\n\n")
    parser = HfArgumentParser(
        dataclass_types,
        prog=prog,
        description=description,
        epilog=epilog or None,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--config", default=None, help="JSON or YAML file of flag values (flags given here win).")
    known = {action.dest: action for action in parser._actions}
    for name, metavar in (positionals or {}).items():
        nargs = "*" if known[name].nargs in ("+", "*") else "?"
        parser.add_argument(f"_{name}", nargs=nargs, metavar=metavar, help=f"the same as --{name}")
        known[name].required = False
    values = dict(defaults or {})
    fields = {f.name for dtype in dataclass_types for f in dataclasses.fields(dtype)}
    values.update({name: value for name, value in COMMAND_DEFAULTS.items() if name in fields and name not in values})
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            parser.error("--config needs a file")
        values.update(_read_config(argv[index + 1]))
        del argv[index : index + 2]
    for name, settings in (command_options or {}).items():
        action = known[name]
        action.choices, action.default, action.help = settings["choices"], settings["default"], settings["help"]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"Unknown keys in --config: {unknown}; valid keys are the command's flags (see --help)")
    for key, value in values.items():
        known[key].required = False
        known[key].default = value
    parsed_values = vars(parser.parse_args(argv))
    parsed_values.pop("config", None)
    for name, metavar in (positionals or {}).items():
        given = parsed_values.pop(f"_{name}")
        if given not in (None, []):
            parsed_values[name] = given
        elif parsed_values.get(name) in (None, []):
            parser.error(f"the following arguments are required: {metavar} (or --{name})")
    owned = {name: parsed_values.pop(name) for name in command_options or {}}
    outputs = []
    for dtype in dataclass_types:
        names = {f.name for f in dataclasses.fields(dtype) if f.init}
        outputs.append(dtype(**{k: v for k, v in parsed_values.items() if k in names}))
    return outputs + ([owned] if command_options is not None else [])


def run_stage(stage, dataclass_types, argv: list[str], prog: str, doc: str, **parse_options) -> int:
    """Parse a stage command's flags (see `parse_arguments`), run `stage(*arguments, **owned flags)`, print its
    metrics and a closing line (where the model went, its score) once, on the main process."""
    arguments = parse_arguments(dataclass_types, argv, prog, doc, **parse_options)
    owned = arguments.pop() if parse_options.get("command_options") is not None else {}
    metrics = stage(*arguments, **owned)
    training = arguments[-1]  # the TrainingArguments (or, for evaluate, what it builds them from)
    if getattr(training, "should_save", True):  # once, on the main process
        print(json.dumps(metrics, indent=2))
        print(f"{prog}: saved to {training.output_dir}{_score(metrics)}")
    return 0


def _score(metrics: dict) -> str:
    """`; eval_accuracy 0.8812` (the first evaluation metric, else the loss) for the closing line; run statistics and
    the loss components (`eval_loss_pred`, ...) are not scores."""
    skipped = ("runtime", "_time", "per_second", "samples", "epoch")  # _time: eval_model_preparation_time
    scores = [
        (k, v) for k, v in metrics.items() if k.startswith("eval_") and "loss" not in k and not k.endswith(skipped)
    ]
    scores = scores or [(k, v) for k, v in metrics.items() if k in ("eval_loss", "train_loss")]
    return next((f"; {k} {v:.4g}" for k, v in scores if isinstance(v, (int, float))), "")
