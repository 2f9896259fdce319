"""Convert checkpoints: original TinyBERT in, plain BERT out, or a student initialised from a teacher.

Three conversions, one sub-command each:

  hf-tinybert convert from-original CHECKPOINT_DIR --output_dir OUT [--head HEAD] [--num_labels N]
      an official TinyBERT checkpoint (or Hub copy) -> a TinyBERT student folder, with the tokenizer and
      distill_projections.safetensors (its fit_dense projections) beside it
  hf-tinybert convert to-bert STUDENT_DIR --output_dir OUT
      a TinyBERT student -> a plain `bert` model that loads without custom code
  hf-tinybert convert from-teacher TEACHER --output_dir OUT [--preset P] [--layers uniform|first|last|2,4,6]
                                   [--num_layers M] [--head HEAD] [--tokenizer DIR]
      a BERT teacher -> a student made of a subset of its layers (numbered 1..N), of the teacher's width or,
      with --preset, narrower (weight selection: its first hidden units, head dimensions and feed-forward
      units), with the teacher's tokenizer and, when narrower, the projections to the teacher's width: a
      starting point for distillation that learns in minutes on a CPU.
      `slice-teacher` is the same command with --preset tinybert-4l-312d as default.

Each refuses a non-empty --output_dir unless --overwrite_output_dir (or --overwrite) is given.
"""

from __future__ import annotations

import argparse

from hf_tinybert.modeling.configuration_tinybert import TINYBERT_PRESETS
from hf_tinybert.modeling.heads import HEADS
from hf_tinybert.modeling.layer_map import LAYER_MAP_PRESETS

from . import command

SLICE_ALIAS = "slice-teacher"  # the former weight-selection command: narrower by default
SLICE_DEFAULT_PRESET = "tinybert-4l-312d"


def _layers(value: str) -> str | list[int]:
    if value in LAYER_MAP_PRESETS:
        return value
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither one of {', '.join(LAYER_MAP_PRESETS)} nor comma-separated teacher layers (1..N) "
            "like 2,4,6"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hf-tinybert convert` (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="hf-tinybert convert",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `hf-tinybert convert <conversion> --help` for its options.",
    )
    sub = parser.add_subparsers(dest="conversion", metavar="{from-original,to-bert,from-teacher}", required=True)

    original = sub.add_parser(
        "from-original",
        help="an original TinyBERT checkpoint (official code or Hub copy) -> a TinyBERT student folder",
        description="Convert an original TinyBERT checkpoint (config.json, pytorch_model.bin or model.safetensors, "
        "vocab.txt) into a TinyBERT student folder. Its fit_dense/fit_denses projections are saved beside the "
        "student as distill_projections.safetensors (mode shared / per_layer).",
    )
    original.add_argument("checkpoint_dir", help="folder of the original checkpoint")
    original.add_argument(
        "--head",
        choices=list(HEADS),
        default=None,
        help="the student's head (default: inferred from the weight names; a general checkpoint gives 'base')",
    )
    original.add_argument("--num_labels", type=int, default=None, help="labels of a classification head")
    original.add_argument(
        "--fit_size", type=int, default=None, help="teacher hidden size when the checkpoint has no projections"
    )
    case = original.add_mutually_exclusive_group()
    case.add_argument("--lower_case", dest="do_lower_case", action="store_true", default=None, help="uncased vocab")
    case.add_argument("--cased", dest="do_lower_case", action="store_false", help="cased vocab (no lower-casing)")

    to_bert = sub.add_parser(
        "to-bert",
        help="a TinyBERT student -> a plain `bert` model that loads without custom code",
        description="Save a TinyBERT student as transformers' own BertModel/BertFor... (model_type 'bert', no "
        "auto_map, no code files); outputs are identical.",
    )
    to_bert.add_argument("student_dir", help="folder of a saved TinyBERT student")

    teacher = sub.add_parser(
        "from-teacher",
        aliases=[SLICE_ALIAS],
        help="a BERT teacher -> a student made of a subset of its layers, of its width or narrower",
        description="Initialise a student from a teacher: student layer m starts as teacher layer g(m) of "
        "--layers. Without --preset it has the teacher's width (DistilBERT-style) and the teacher's embeddings, "
        "pooler and head are copied. With --preset it is narrower: every weight keeps the teacher's first hidden "
        "units, the first dimensions of each head and the first feed-forward units (weight selection, Xu et al., "
        "2024), and the projections to the teacher's width are saved beside it, so `general-distill "
        "--student_model OUT` starts from here. Needs the teacher's head count and vocabulary. The teacher's "
        f"tokenizer is saved with the student. `{SLICE_ALIAS}` is this command with --preset "
        f"{SLICE_DEFAULT_PRESET} as default.",
    )
    teacher.add_argument("teacher", help="folder (or Hub id) of the teacher (a BERT or TinyBERT model)")
    teacher.add_argument(
        "--preset",
        choices=sorted(TINYBERT_PRESETS),
        default=None,
        help=f"a narrower student shape (default: the teacher's width; {SLICE_DEFAULT_PRESET} for {SLICE_ALIAS})",
    )
    teacher.add_argument(
        "--layers",
        type=_layers,
        default="uniform",
        help="'uniform' (TinyBERT's mapping: the top layer of each block), 'first', 'last', or teacher layers "
        "numbered 1..N such as 2,4,6 (default: uniform)",
    )
    teacher.add_argument(
        "--num_layers", type=int, default=None, help="student layers (needed with a layer strategy and no --preset)"
    )
    teacher.add_argument(
        "--head", choices=list(HEADS), default=None, help="the student's head (default: the teacher's)"
    )
    teacher.add_argument(
        "--tokenizer", default=None, help="folder of the tokenizer to save with the student (default: the teacher)"
    )

    for conversion in (original, to_bert, teacher):
        conversion.add_argument("--output_dir", required=True, help="folder to write the result to")
        conversion.add_argument(
            "--overwrite_output_dir",
            "--overwrite",
            dest="overwrite_output_dir",
            action="store_true",
            help="replace the contents of a non-empty output_dir",
        )
    return parser


@command("convert")
def main(argv: list[str]) -> int:
    """Run `hf-tinybert convert`; returns the exit status."""
    args = build_parser().parse_args(argv)
    from hf_tinybert.modeling.convert import to_plain_bert
    from hf_tinybert.stages.students import convert_original_checkpoint, save_sliced_student

    if args.conversion == "from-original":
        result = convert_original_checkpoint(
            args.checkpoint_dir,
            args.output_dir,
            head=args.head,
            num_labels=args.num_labels,
            fit_size=args.fit_size,
            do_lower_case=args.do_lower_case,
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
    elif args.conversion == "to-bert":
        out = to_plain_bert(args.student_dir, args.output_dir, overwrite=args.overwrite_output_dir)
        print(f"Saved a plain BERT model to {out}")
    else:
        preset = args.preset or (SLICE_DEFAULT_PRESET if args.conversion == SLICE_ALIAS else None)
        out = save_sliced_student(
            args.teacher,
            args.output_dir,
            preset,
            args.layers,
            num_layers=args.num_layers,
            head=args.head,
            tokenizer=args.tokenizer,
            overwrite=args.overwrite_output_dir,
        )
        shape = f"{preset} student" if preset else "student of the teacher's width"
        print(f"Saved a {shape} initialised from teacher layers {args.layers} of {args.teacher} to {out}")
    return 0
