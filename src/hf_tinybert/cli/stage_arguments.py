"""Parsing of the stage commands' flags: dataclasses through `HfArgumentParser` (so every `TrainingArguments`
flag passes through, as in the transformers example scripts), plus `--config file.json|yaml` whose values are
defaults that command-line flags override."""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import yaml
from transformers import HfArgumentParser


def _read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config {path} does not exist")
    with open(path, encoding="utf-8") as f:
        values = yaml.safe_load(f) if path.endswith((".yaml", ".yml")) else json.load(f)
    if not isinstance(values, dict):
        raise ValueError(f"--config {path} must hold a mapping of flag names to values")
    return values


def parse_stage_arguments(
    dataclass_types,
    argv: list[str] | None,
    prog: str,
    description: str,
    defaults: dict | None = None,
    command_options: dict[str, dict] | None = None,
):
    """Parse `argv` into instances of `dataclass_types`.

    Args:
        dataclass_types: the argument dataclasses, in order.
        argv: the command's arguments (without the command name).
        prog, description: shown by `--help`.
        defaults: command-specific defaults (e.g. `{"stage": "general"}`), overridden by `--config` and flags.
        command_options: flags the command owns instead of a dataclass, as {name: {"choices", "default", "help"}}
            (e.g. task-distill's `--stage`, which adds `both`): the dataclass flag of that name is given these
            settings, its value (from flags, `--config` or the default) is taken out of the dataclasses' values and
            returned in a dict after the dataclass instances.

    Raises:
        ValueError: a `--config` key that no dataclass knows (listing the valid ones).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(dataclass_types, prog=prog, description=description)
    parser.add_argument("--config", default=None, help="JSON or YAML file of flag values (flags given here win).")
    values = dict(defaults or {})
    if any("precision" in {f.name for f in dataclasses.fields(dtype)} for dtype in dataclass_types):
        values.setdefault("precision", "auto")  # the commands decide bf16 / fp32 for the machine they run on
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv):
            parser.error("--config needs a file")
        values.update(_read_config(argv[index + 1]))
        del argv[index : index + 2]
    known = {action.dest: action for action in parser._actions}
    for name, settings in (command_options or {}).items():
        action = known[name]
        action.choices, action.default, action.help = settings["choices"], settings["default"], settings["help"]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"Unknown keys in --config: {unknown}; valid keys are the command's flags (see --help)")
    for key, value in values.items():
        known[key].required = False
        known[key].default = value
    parsed = parser.parse_args(argv)
    parsed_values = vars(parsed)
    parsed_values.pop("config", None)
    owned = {name: parsed_values.pop(name) for name in command_options or {}}
    outputs = []
    for dtype in dataclass_types:
        names = {f.name for f in dataclasses.fields(dtype) if f.init}
        outputs.append(dtype(**{k: v for k, v in parsed_values.items() if k in names}))
    return outputs + ([owned] if command_options is not None else [])
