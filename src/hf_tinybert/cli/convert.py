"""Convert checkpoints: original TinyBERT in, plain BERT out, or a student initialised from a teacher.

  hf-tinybert convert from-original CHECKPOINT_DIR --output_dir OUT [--head HEAD] [--num_labels N]
      an official TinyBERT checkpoint (or Hub copy) -> a TinyBERT student folder, with the tokenizer and
      distill_projections.safetensors (its fit_dense projections) beside it
  hf-tinybert convert to-bert STUDENT_DIR --output_dir OUT
      a TinyBERT student -> a plain `bert` model that loads without custom code
  hf-tinybert convert from-teacher TEACHER --output_dir OUT [--preset P] [--layers uniform|first|last|2,4,6]
                                   [--num_layers M] [--head HEAD] [--tokenizer DIR]
      a BERT teacher -> a student made of a subset of its layers (numbered 1..N), of the teacher's width or,
      with --preset, narrower (weight selection), with the teacher's tokenizer: a starting point for
      distillation that learns in minutes on a CPU
  hf-tinybert convert slice-teacher TEACHER --output_dir OUT ...
      from-teacher with --preset tinybert-4l-312d as default

Each conversion reads its flags like every other command (`--config file.json|yaml`, positionals also given as
flags, e.g. --checkpoint_dir) and refuses a non-empty --output_dir unless --overwrite_output_dir (or --overwrite)
is given. Run `hf-tinybert convert <conversion> --help` for its options.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field

from hf_tinybert.modeling.configuration_tinybert import TINYBERT_PRESETS
from hf_tinybert.modeling.heads import HEADS
from hf_tinybert.modeling.layer_map import LAYER_MAP_PRESETS

from . import command
from .arguments import parse_arguments

SLICE_ALIAS = "slice-teacher"  # the former weight-selection command: narrower by default
SLICE_DEFAULT_PRESET = "tinybert-4l-312d"


def _output_dir_field():
    return field(metadata={"help": "Folder to write the result to."})


def _overwrite_field():
    return field(
        default=False,
        metadata={"aliases": ["--overwrite"], "help": "Replace the contents of a non-empty output_dir."},
    )


@dataclass
class FromOriginalArguments:
    """Convert an original TinyBERT checkpoint (config.json, pytorch_model.bin or model.safetensors, vocab.txt) into a
    TinyBERT student folder. Its fit_dense/fit_denses projections are saved beside the student as
    distill_projections.safetensors (mode shared / per_layer)."""

    checkpoint_dir: str = field(metadata={"help": "Folder of the original checkpoint."})
    output_dir: str = _output_dir_field()
    head: str | None = field(
        default=None,
        metadata={
            "choices": list(HEADS),
            "help": "The student's head (default: inferred from the weight names; a general checkpoint gives base).",
        },
    )
    num_labels: int | None = field(default=None, metadata={"help": "Labels of a classification head."})
    fit_size: int | None = field(
        default=None, metadata={"help": "The teacher's hidden size, when the checkpoint has no projections."}
    )
    lower_case: bool = field(default=False, metadata={"help": "Uncased vocabulary (default: from the checkpoint)."})
    cased: bool = field(default=False, metadata={"help": "Cased vocabulary: no lower-casing."})
    overwrite_output_dir: bool = _overwrite_field()


@dataclass
class ToBertArguments:
    """Save a TinyBERT student as transformers' own BertModel/BertFor... (model_type bert, no auto_map, no code
    files); its outputs are identical."""

    student_dir: str = field(metadata={"help": "Folder of a saved TinyBERT student."})
    output_dir: str = _output_dir_field()
    overwrite_output_dir: bool = _overwrite_field()


@dataclass
class FromTeacherArguments:
    """Initialise a student from a teacher: student layer m starts as teacher layer g(m) of --layers. Without --preset
    it has the teacher's width (DistilBERT-style) and the teacher's embeddings, pooler and head are copied. With
    --preset it is narrower: every weight keeps the teacher's first hidden units, the first dimensions of each head
    and the first feed-forward units (weight selection, Xu et al., 2024), and the projections to the teacher's width
    are saved beside it, so `general-distill --student_model OUT` starts from here. Needs the teacher's head count and
    vocabulary. The teacher's tokenizer is saved with the student. `slice-teacher` is this conversion with --preset
    tinybert-4l-312d as default."""

    teacher: str = field(metadata={"help": "Folder (or Hub id) of the teacher (a BERT or TinyBERT model)."})
    output_dir: str = _output_dir_field()
    preset: str | None = field(
        default=None,
        metadata={
            "choices": sorted(TINYBERT_PRESETS),
            "help": "A narrower student shape (default: the teacher's width).",
        },
    )
    layers: str = field(
        default="uniform",
        metadata={
            "help": "uniform (TinyBERT's mapping: the top layer of each block), first, last, or teacher layers "
            "numbered 1..N such as 2,4,6."
        },
    )
    num_layers: int | None = field(
        default=None, metadata={"help": "Student layers (needed with a layer strategy and no --preset)."}
    )
    head: str | None = field(
        default=None, metadata={"choices": list(HEADS), "help": "The student's head (default: the teacher's)."}
    )
    tokenizer: str | None = field(
        default=None, metadata={"help": "Folder of the tokenizer to save with the student (default: the teacher)."}
    )
    overwrite_output_dir: bool = _overwrite_field()


# conversion -> (its arguments, the positional field, command-specific defaults)
CONVERSIONS: dict[str, tuple[type, str, dict]] = {
    "from-original": (FromOriginalArguments, "checkpoint_dir", {}),
    "to-bert": (ToBertArguments, "student_dir", {}),
    "from-teacher": (FromTeacherArguments, "teacher", {}),
    SLICE_ALIAS: (FromTeacherArguments, "teacher", {"preset": SLICE_DEFAULT_PRESET}),
}


def parse_layers(value: str) -> str | list[int]:
    """`uniform` / `first` / `last`, or `2,4,6` -> [2, 4, 6]."""
    if value in LAYER_MAP_PRESETS:
        return value
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--layers {value!r} is neither one of {', '.join(LAYER_MAP_PRESETS)} nor comma-separated teacher layers "
            "(1..N) like 2,4,6"
        ) from None


def _usage() -> str:
    return f"usage: hf-tinybert convert <conversion> [options]\n\n{__doc__.strip()}"


def parse_conversion(argv: list[str]):
    """`(conversion name, its arguments)` from `hf-tinybert convert`'s command line."""
    name, rest = argv[0], argv[1:]
    if name not in CONVERSIONS:
        near = difflib.get_close_matches(name, list(CONVERSIONS), n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown conversion {name!r}{hint}; valid conversions are: {', '.join(CONVERSIONS)}")
    arguments_class, positional, defaults = CONVERSIONS[name]
    (args,) = parse_arguments(
        (arguments_class,),
        rest,
        f"hf-tinybert convert {name}",
        inspect.cleandoc(arguments_class.__doc__),
        defaults=defaults,
        positionals={positional: positional.upper()},
    )
    return name, args


@command("convert")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert convert`; returns the exit status."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    conversion, args = parse_conversion(argv)
    from hf_tinybert.modeling.convert import to_plain_bert
    from hf_tinybert.stages.students import convert_original_checkpoint, save_sliced_student

    if conversion == "from-original":
        if args.lower_case and args.cased:
            raise ValueError("give --lower_case or --cased, not both")
        result = convert_original_checkpoint(
            args.checkpoint_dir,
            args.output_dir,
            head=args.head,
            num_labels=args.num_labels,
            fit_size=args.fit_size,
            do_lower_case=True if args.lower_case else (False if args.cased else None),
            overwrite=args.overwrite_output_dir,
        )
        print(f"Saved a {result.model_class} (fit_size {result.fit_size}) to {result.output_dir}")
        if result.projections_file is not None:
            print(f"Distillation projections: {result.projections_file}")
        if not result.tokenizer_saved:
            print("Warning: the checkpoint has no vocab.txt, so no tokenizer was saved.")
        if result.initialized_keys:
            print(f"Newly initialised (not in the checkpoint): {', '.join(result.initialized_keys)}")
        if result.dropped_keys:
            print(f"Not part of the student: {', '.join(result.dropped_keys)}")
    elif conversion == "to-bert":
        out = to_plain_bert(args.student_dir, args.output_dir, overwrite=args.overwrite_output_dir)
        print(f"Saved a plain BERT model to {out}")
    else:
        layers = parse_layers(args.layers)
        out = save_sliced_student(
            args.teacher,
            args.output_dir,
            args.preset,
            layers,
            num_layers=args.num_layers,
            head=args.head,
            tokenizer=args.tokenizer,
            overwrite=args.overwrite_output_dir,
        )
        shape = f"{args.preset} student" if args.preset else "student of the teacher's width"
        print(f"Saved a {shape} initialised from teacher layers {args.layers} of {args.teacher} to {out}")
    return 0
